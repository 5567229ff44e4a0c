package session

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

var (
	created = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	pol     = Policy{DefaultTimeout: 300 * time.Second, TerminalRetention: 60 * time.Second}
)

func newSession(timeoutSeconds int32) *v1alpha1.UpdateSession {
	us := &v1alpha1.UpdateSession{ObjectMeta: metav1.ObjectMeta{
		UID: "uid-1", Generation: 1, CreationTimestamp: metav1.NewTime(created)}}
	if timeoutSeconds > 0 {
		us.Spec.ExpirationTimeoutSeconds = &timeoutSeconds
	}
	pol.Sync(us, created)
	return us
}

func at(d time.Duration) time.Time { return created.Add(d) }

func TestDeadlines(t *testing.T) {
	cases := []struct {
		name          string
		session       func() *v1alpha1.UpdateSession
		now           time.Time
		wantDeadline  time.Time
		wantRemaining time.Duration
	}{
		{"new session without timeout uses the default", func() *v1alpha1.UpdateSession { return newSession(0) },
			at(0), at(300 * time.Second), 300 * time.Second},
		{"spec timeout overrides the default", func() *v1alpha1.UpdateSession { return newSession(10) },
			at(4 * time.Second), at(10 * time.Second), 6 * time.Second},
		{"session idle 299s with 300s timeout has 1s left", func() *v1alpha1.UpdateSession { return newSession(0) },
			at(299 * time.Second), at(300 * time.Second), time.Second},
		{"session idle 301s with 300s timeout is due", func() *v1alpha1.UpdateSession { return newSession(0) },
			at(301 * time.Second), at(300 * time.Second), 0},
		{"keep-alive at 200s moves the deadline to 500s", func() *v1alpha1.UpdateSession {
			us := newSession(0)
			pol.Touch(us, at(200*time.Second))
			return us
		}, at(400 * time.Second), at(500 * time.Second), 100 * time.Second},
		{"session done at 30s is kept for the retention", func() *v1alpha1.UpdateSession {
			us := newSession(0)
			mustFinish(t, us, v1alpha1.StateDone, at(30*time.Second))
			return us
		}, at(60 * time.Second), at(90 * time.Second), 30 * time.Second},
		{"session canceled by kubectl counts from when the operator saw it", func() *v1alpha1.UpdateSession {
			us := newSession(0)
			us.Status.State = v1alpha1.StateCanceled
			pol.Sync(us, at(45*time.Second))
			return us
		}, at(45 * time.Second), at(105 * time.Second), 60 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := tc.session()
			if got := pol.Deadline(us); !got.Equal(tc.wantDeadline) {
				t.Errorf("Deadline = %v, want %v", got, tc.wantDeadline)
			}
			if got := pol.Remaining(us, tc.now); got != tc.wantRemaining {
				t.Errorf("Remaining = %v, want %v", got, tc.wantRemaining)
			}
		})
	}
}

func TestSyncInitialisesNewSession(t *testing.T) {
	us := newSession(0)
	us.Status = v1alpha1.UpdateSessionStatus{}
	if !pol.Sync(us, at(time.Second)) {
		t.Error("Sync reported no change on a new session")
	}
	got := us.Status.Lifecycle
	want := v1alpha1.Lifecycle{
		ID:             "uid-1",
		State:          v1alpha1.StateActive,
		LastActivity:   new(metav1.NewMicroTime(created)),
		ExpirationTime: new(metav1.NewMicroTime(at(300 * time.Second))),
		Conditions: []metav1.Condition{{
			Type: v1alpha1.ConditionActive, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonActive,
			Message: got.Conditions[0].Message, ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(at(time.Second)),
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sync mismatch (-want +got):\n%s", diff)
	}
}

func TestSyncIsStable(t *testing.T) {
	us := newSession(0)
	pol.Touch(us, at(1234567*time.Nanosecond))
	before := us.Status.DeepCopy()
	if pol.Sync(us, at(time.Hour)) {
		t.Errorf("an up-to-date status must not change (-have +synced):\n%s", cmp.Diff(before, &us.Status))
	}
}

func TestKeepAlive(t *testing.T) {
	progress := func(p int64) *int64 { return &p }
	cases := []struct {
		name         string
		state        v1alpha1.SessionState
		current      int64
		progress     *int64
		wantErr      vapi.ErrorType
		wantProgress int64
	}{
		{"without progress keeps progress", v1alpha1.StateActive, 30, nil, "", 30},
		{"higher progress is taken", v1alpha1.StateActive, 30, progress(40), "", 40},
		{"equal progress is accepted", v1alpha1.StateActive, 30, progress(30), "", 30},
		{"100 is accepted", v1alpha1.StateActive, 30, progress(100), "", 100},
		{"lower progress is refused", v1alpha1.StateActive, 30, progress(29), vapi.InvalidArgument, 30},
		{"negative progress is refused", v1alpha1.StateActive, 0, progress(-1), vapi.InvalidArgument, 0},
		{"progress above 100 is refused", v1alpha1.StateActive, 0, progress(101), vapi.InvalidArgument, 0},
		{"DONE session is refused", v1alpha1.StateDone, 30, nil, vapi.NotAllowedInCurrentState, 30},
		{"CANCELED session is refused even with valid progress", v1alpha1.StateCanceled, 30, progress(50), vapi.NotAllowedInCurrentState, 30},
		{"ERROR session is refused", v1alpha1.StateError, 30, nil, vapi.NotAllowedInCurrentState, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := newSession(0)
			us.Status.State, us.Status.ClientProgress = tc.state, tc.current
			before := us.DeepCopy()
			clk := clocktesting.NewFakePassiveClock(at(100 * time.Second))

			changed, err := pol.KeepAlive(us, tc.progress, clk.Now())

			checkType(t, err, tc.wantErr)
			if changed != (err == nil) {
				t.Errorf("changed = %v with error %v: an applied keep-alive without coalescing is written", changed, err)
			}
			if us.Status.ClientProgress != tc.wantProgress {
				t.Errorf("progress = %d, want %d", us.Status.ClientProgress, tc.wantProgress)
			}
			if tc.wantErr != "" {
				if diff := cmp.Diff(before, us); diff != "" {
					t.Errorf("a refused keep-alive changed the session:\n%s", diff)
				}
				return
			}
			if !us.Status.LastActivity.Time.Equal(clk.Now()) || !us.Status.ExpirationTime.Time.Equal(at(400*time.Second)) {
				t.Errorf("lastActivity %v, expirationTime %v; want now and now+300s", us.Status.LastActivity, us.Status.ExpirationTime)
			}
		})
	}
}

func TestTouchNeverMovesLastActivityBack(t *testing.T) {
	us := newSession(0)
	pol.Touch(us, at(50*time.Second))
	pol.Touch(us, at(40*time.Second)) // a replica whose clock is 10s behind
	if got := us.Status.LastActivity.Time; !got.Equal(at(50 * time.Second)) {
		t.Errorf("lastActivity = %v, want it to stay at %v", got, at(50*time.Second))
	}
}

func TestFinish(t *testing.T) {
	cases := []struct {
		name       string
		from, to   v1alpha1.SessionState
		wantErr    vapi.ErrorType
		wantReason string
	}{
		{"complete an ACTIVE session", v1alpha1.StateActive, v1alpha1.StateDone, "", v1alpha1.ReasonCompleted},
		{"cancel an ACTIVE session", v1alpha1.StateActive, v1alpha1.StateCanceled, "", v1alpha1.ReasonCanceled},
		{"fail an ACTIVE session", v1alpha1.StateActive, v1alpha1.StateError, "", v1alpha1.ReasonFailed},
		{"complete a DONE session", v1alpha1.StateDone, v1alpha1.StateDone, vapi.NotAllowedInCurrentState, ""},
		{"cancel a failed session", v1alpha1.StateError, v1alpha1.StateCanceled, vapi.NotAllowedInCurrentState, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := newSession(0)
			us.Status.State = tc.from
			changed, err := pol.Finish(us, tc.to, "disk full", at(10*time.Second))
			checkType(t, err, tc.wantErr)
			if changed != (err == nil) {
				t.Errorf("changed = %v with error %v", changed, err)
			}
			if err != nil {
				return
			}
			c := us.Status.Conditions[0]
			if us.Status.State != tc.to || c.Status != metav1.ConditionFalse || c.Reason != tc.wantReason {
				t.Errorf("state %s, condition %s/%s; want %s, False/%s", us.Status.State, c.Status, c.Reason, tc.to, tc.wantReason)
			}
			if wantMsg := map[bool]string{true: "disk full"}[tc.to == v1alpha1.StateError]; us.Status.ErrorMessage != wantMsg {
				t.Errorf("errorMessage = %q, want %q", us.Status.ErrorMessage, wantMsg)
			}
		})
	}
}

func mustFinish(t *testing.T, us *v1alpha1.UpdateSession, state v1alpha1.SessionState, now time.Time) {
	t.Helper()
	if _, err := pol.Finish(us, state, "", now); err != nil {
		t.Fatal(err)
	}
}

func checkType(t *testing.T, err error, want vapi.ErrorType) {
	t.Helper()
	var verr *vapi.Error
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error %v", err)
	case want != "" && (!errors.As(err, &verr) || verr.Type != want):
		t.Fatalf("error = %v, want %s", err, want)
	}
}

func TestCoalesces(t *testing.T) {
	progress := func(p int64) *int64 { return &p }
	coalescing := Policy{DefaultTimeout: 300 * time.Second, MaxCoalesce: time.Second}
	cases := []struct {
		name     string
		policy   Policy
		timeout  int32
		state    v1alpha1.SessionState
		progress *int64
		age      time.Duration
		want     bool
	}{
		{"fresh keep-alive without progress is coalesced", coalescing, 0, v1alpha1.StateActive, nil, 500 * time.Millisecond, true},
		{"unchanged progress is coalesced", coalescing, 0, v1alpha1.StateActive, progress(30), 500 * time.Millisecond, true},
		{"new progress is written", coalescing, 0, v1alpha1.StateActive, progress(31), 500 * time.Millisecond, false},
		{"lastActivity as old as the window is written", coalescing, 0, v1alpha1.StateActive, nil, time.Second, false},
		{"window is 1% of a 10s timeout", coalescing, 10, v1alpha1.StateActive, nil, 150 * time.Millisecond, false},
		{"within 1% of a 10s timeout", coalescing, 10, v1alpha1.StateActive, nil, 50 * time.Millisecond, true},
		{"a DONE session is never coalesced", coalescing, 0, v1alpha1.StateDone, nil, 0, false},
		{"no coalescing when disabled", Policy{DefaultTimeout: 300 * time.Second}, 0, v1alpha1.StateActive, nil, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := newSession(tc.timeout)
			us.Status.State, us.Status.ClientProgress = tc.state, 30
			tc.policy.Touch(us, at(100*time.Second))
			now := at(100*time.Second + tc.age)
			if got := tc.policy.Coalesces(us, tc.progress, now); got != tc.want {
				t.Errorf("Coalesces = %v, want %v", got, tc.want)
			}
			before := us.DeepCopy()
			changed, err := tc.policy.KeepAlive(us, tc.progress, now)
			if err == nil && changed == tc.want {
				t.Errorf("KeepAlive changed = %v, want %v: a coalesced keep-alive has nothing to write", changed, !tc.want)
			}
			if tc.want && !cmp.Equal(before, us) {
				t.Errorf("a coalesced keep-alive changed the session:\n%s", cmp.Diff(before, us))
			}
		})
	}
}

// A keep-alive that does not coalesce may leave its write to a refresh under way only while it
// would change nothing but lastActivity, and only up to two windows after lastActivity.
func TestDefersToRefresh(t *testing.T) {
	progress := func(p int64) *int64 { return &p }
	p := Policy{DefaultTimeout: time.Hour, MaxCoalesce: 10 * time.Second}
	for _, tc := range []struct {
		name     string
		state    v1alpha1.SessionState
		progress *int64
		age      time.Duration
		want     bool
	}{
		{"right after the window", v1alpha1.StateActive, nil, 10 * time.Second, true},
		{"with unchanged progress", v1alpha1.StateActive, progress(30), 15 * time.Second, true},
		{"just within two windows", v1alpha1.StateActive, nil, 20*time.Second - time.Millisecond, true},
		{"two windows after lastActivity", v1alpha1.StateActive, nil, 20 * time.Second, false},
		{"new progress is written", v1alpha1.StateActive, progress(31), 15 * time.Second, false},
		{"a CANCELED session never defers", v1alpha1.StateCanceled, nil, 15 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			us := newSession(0)
			us.Status.State, us.Status.ClientProgress = tc.state, 30
			p.Touch(us, at(100*time.Second))
			if got := p.DefersToRefresh(us, tc.progress, at(100*time.Second+tc.age)); got != tc.want {
				t.Errorf("DefersToRefresh = %v, want %v", got, tc.want)
			}
		})
	}
}

// The default window: 1% of the timeout, capped at DefaultMaxCoalesce. A session with the
// default 5-minute timeout costs a write every 3 s at most; long sessions every 10 s.
func TestDefaultCoalesceWindow(t *testing.T) {
	p := Policy{DefaultTimeout: 5 * time.Minute, MaxCoalesce: DefaultMaxCoalesce}
	for _, tc := range []struct {
		timeout int32
		want    time.Duration
	}{{0, 3 * time.Second}, {60, 600 * time.Millisecond}, {3600, 10 * time.Second}, {86400, 10 * time.Second}} {
		if got := p.CoalesceWindow(newSession(tc.timeout)); got != tc.want {
			t.Errorf("timeout %ds: window %v, want %v", tc.timeout, got, tc.want)
		}
	}
}

// A session is queued for a refresh in the last RefreshLead of its window, and only when the
// window is long enough (at least minRefreshWindow) for the lead to cost few extra writes.
func TestRefreshDue(t *testing.T) {
	p := Policy{DefaultTimeout: 5 * time.Minute, MaxCoalesce: DefaultMaxCoalesce}
	for _, tc := range []struct {
		name    string
		timeout int32
		age     time.Duration
		want    bool
	}{
		{"early in a 10s window", 3600, 5 * time.Second, false},
		{"right before the lead of a 10s window", 3600, 10*time.Second - RefreshLead - time.Millisecond, false},
		{"within the lead of a 10s window", 3600, 10*time.Second - RefreshLead, true},
		{"within the lead of the default 3s window", 0, 2600 * time.Millisecond, true},
		{"a 600ms window is never refreshed", 60, 590 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			us := newSession(tc.timeout)
			us.Status.State = v1alpha1.StateActive
			p.Touch(us, at(100*time.Second))
			if got := p.RefreshDue(us, at(100*time.Second+tc.age)); got != tc.want {
				t.Errorf("RefreshDue = %v, want %v", got, tc.want)
			}
		})
	}
}

// A refresh writes the keep-alive's own time, and nothing when the session moved on since: a
// write within the window less the lead (such as an earlier refresh), or a terminal state.
func TestRefresh(t *testing.T) {
	p := Policy{DefaultTimeout: 5 * time.Minute, MaxCoalesce: DefaultMaxCoalesce} // 10s windows
	keepAlive := at(109*time.Second + 700*time.Millisecond + 1500)                // nanoseconds are not stored
	for _, tc := range []struct {
		name  string
		state v1alpha1.SessionState
		last  time.Time
		want  bool
	}{
		{"an older lastActivity moves to the keep-alive", v1alpha1.StateActive, at(100 * time.Second), true},
		{"a lastActivity already at the keep-alive stays", v1alpha1.StateActive, keepAlive, false},
		{"a lastActivity written less than the window less the lead before stays", v1alpha1.StateActive, at(101 * time.Second), false},
		{"a later lastActivity stays", v1alpha1.StateActive, at(110 * time.Second), false},
		{"a DONE session stays", v1alpha1.StateDone, at(100 * time.Second), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			us := newSession(3600)
			us.Status.State = tc.state
			p.Touch(us, tc.last)
			before := us.DeepCopy()
			if got := p.Refresh(us, keepAlive); got != tc.want {
				t.Fatalf("Refresh = %v, want %v", got, tc.want)
			}
			if !tc.want {
				if !cmp.Equal(before, us) {
					t.Errorf("a refresh with nothing to write changed the session:\n%s", cmp.Diff(before, us))
				}
				return
			}
			if got, want := us.Status.LastActivity.Time, keepAlive.Truncate(time.Microsecond); !got.Equal(want) {
				t.Errorf("lastActivity %v, want the keep-alive's time %v", got, want)
			}
			if got, want := us.Status.ExpirationTime.Time, keepAlive.Truncate(time.Microsecond).Add(time.Hour); !got.Equal(want) {
				t.Errorf("expirationTime %v, want %v", got, want)
			}
		})
	}
}

// item returns a session named name of one library item, created at the given offset from
// created, in state.
func item(name string, createdAt time.Duration, state v1alpha1.SessionState) v1alpha1.UpdateSession {
	us := newSession(0)
	us.Name, us.UID = name, types.UID("uid-"+name)
	us.CreationTimestamp = metav1.NewTime(at(createdAt))
	us.Status.State = state
	return *us
}

func TestSupersedes(t *testing.T) {
	cases := []struct {
		name string
		a, b v1alpha1.UpdateSession
		want bool
	}{
		{"created a second earlier wins", item("z", 0, ""), item("a", time.Second, ""), true},
		{"created a second later loses", item("a", time.Second, ""), item("z", 0, ""), false},
		{"same second: the smaller name wins", item("a", 0, ""), item("b", 0, ""), true},
		{"same second: the larger name loses", item("b", 0, ""), item("a", 0, ""), false},
		{"a session does not supersede itself", item("a", 0, ""), item("a", 0, ""), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Supersedes(&tc.a, &tc.b); got != tc.want {
				t.Errorf("Supersedes = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDuplicates(t *testing.T) {
	deleting := item("b-deleting", 0, v1alpha1.StateActive)
	deleting.DeletionTimestamp = new(metav1.NewTime(at(time.Minute)))
	cases := []struct {
		name       string
		sessions   []v1alpha1.UpdateSession
		wantHolder string
		wantDups   []string
	}{
		{"no sessions: no holder", nil, "", nil},
		{"one ACTIVE session holds the item", []v1alpha1.UpdateSession{item("a", 0, v1alpha1.StateActive)}, "a", nil},
		{"an uninitialised session counts as ACTIVE", []v1alpha1.UpdateSession{item("a", 0, "")}, "a", nil},
		{"the oldest of three holds, whatever the list order", []v1alpha1.UpdateSession{
			item("c", 2*time.Second, v1alpha1.StateActive), item("a", 0, v1alpha1.StateActive),
			item("b", time.Second, v1alpha1.StateActive)}, "a", []string{"c", "b"}},
		{"same second: the smaller name holds", []v1alpha1.UpdateSession{
			item("y", 0, v1alpha1.StateActive), item("x", 0, v1alpha1.StateActive)}, "x", []string{"y"}},
		{"ended sessions neither hold nor are failed", []v1alpha1.UpdateSession{
			item("a", 0, v1alpha1.StateDone), item("b", time.Second, v1alpha1.StateActive),
			item("c", 2*time.Second, v1alpha1.StateError)}, "b", nil},
		{"a session being deleted neither holds nor is failed", []v1alpha1.UpdateSession{
			deleting, item("c", time.Second, v1alpha1.StateActive)}, "c", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sessions []*v1alpha1.UpdateSession
			for i := range tc.sessions {
				sessions = append(sessions, &tc.sessions[i])
			}
			holder, held, dups := Duplicates(sessions)
			gotHolder := ""
			if held {
				gotHolder = holder.Name
			}
			gotDups := make([]string, 0, len(dups))
			for _, d := range dups {
				gotDups = append(gotDups, d.Name)
			}
			if gotHolder != tc.wantHolder {
				t.Errorf("holder %q, want %q", gotHolder, tc.wantHolder)
			}
			if diff := cmp.Diff(tc.wantDups, gotDups, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("duplicates (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStoredExpirationTimeIsThePromise(t *testing.T) {
	// Made by a replica whose default timeout is 300s; judged by one whose default is 60s.
	us := newSession(0)
	pol.Touch(us, at(100*time.Second))
	short := Policy{DefaultTimeout: 60 * time.Second, DeletionMargin: 250 * time.Millisecond}

	short.Sync(us, at(200*time.Second))
	if got := us.Status.ExpirationTime.Time; !got.Equal(at(400 * time.Second)) {
		t.Errorf("Sync moved the stored expirationTime to %v, want it kept at %v", got, at(400*time.Second))
	}
	if got := short.Deadline(us); !got.Equal(at(400 * time.Second)) {
		t.Errorf("Deadline = %v, want the stored expirationTime %v", got, at(400*time.Second))
	}
	if got := short.Remaining(us, at(400*time.Second)); got != 250*time.Millisecond {
		t.Errorf("Remaining at the expirationTime = %v, want the 250ms margin", got)
	}
	short.Touch(us, at(390*time.Second)) // the next activity applies the new default
	if got := short.Deadline(us); !got.Equal(at(450 * time.Second)) {
		t.Errorf("Deadline after a keep-alive = %v, want %v", got, at(450*time.Second))
	}

	explicit := newSession(600)
	explicit.Spec.ExpirationTimeoutSeconds = new(int32(10)) // shortened in the spec by its owner
	pol.Sync(explicit, at(time.Second))
	if got := explicit.Status.ExpirationTime.Time; !got.Equal(at(10 * time.Second)) {
		t.Errorf("a shortened spec timeout gives expirationTime %v, want %v", got, at(10*time.Second))
	}
}
