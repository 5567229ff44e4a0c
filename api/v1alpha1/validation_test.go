package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// No operator runs in these tests: the API server alone must enforce every rule.

func TestCreateValidation(t *testing.T) {
	ns := env.Namespace(t)
	cases := []struct {
		name    string
		mutate  func(*v1alpha1.UpdateSession)
		wantErr string // empty: accepted
	}{
		{"minimal session is accepted", func(*v1alpha1.UpdateSession) {}, ""},
		{"every field set is accepted", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemContentVersion = "7"
			us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](86400)
			us.Spec.WarningBehavior = []v1alpha1.WarningBehavior{
				{Type: v1alpha1.WarningSelfSigned, Ignored: true}, {Type: v1alpha1.WarningUntrusted}}
		}, ""},
		{"empty libraryItemID", func(us *v1alpha1.UpdateSession) { us.Spec.LibraryItemID = "" }, "spec.libraryItemID"},
		{"libraryItemID of 256 characters", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemID = strings.Repeat("a", 256)
		}, "spec.libraryItemID: Too long"},
		{"timeout 0", func(us *v1alpha1.UpdateSession) {
			us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](0)
		}, "spec.expirationTimeoutSeconds: Invalid value: 0: spec.expirationTimeoutSeconds in body should be greater than or equal to 1"},
		{"timeout 86401", func(us *v1alpha1.UpdateSession) {
			us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](86401)
		}, "should be less than or equal to 86400"},
		{"unknown warning type", func(us *v1alpha1.UpdateSession) {
			us.Spec.WarningBehavior = []v1alpha1.WarningBehavior{{Type: "BAD_CERTIFICATE"}}
		}, `spec.warningBehavior[0].type: Unsupported value: "BAD_CERTIFICATE"`},
		{"two entries of one warning type", func(us *v1alpha1.UpdateSession) {
			us.Spec.WarningBehavior = []v1alpha1.WarningBehavior{
				{Type: v1alpha1.WarningExpired}, {Type: v1alpha1.WarningExpired, Ignored: true}}
		}, "spec.warningBehavior[1]: Duplicate value"},
		{"libraryItemID of 255 multi-byte characters, spaces and emoji", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemID = "Élément 🙂\u3000" + strings.Repeat("項", 245)
		}, ""},
		{"libraryItemID with a bell", func(us *v1alpha1.UpdateSession) { us.Spec.LibraryItemID = "item\a" }, "spec.libraryItemID in body should match"},
		{"libraryItemID with a right-to-left override", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemID = "a\u202Eb"
		}, "spec.libraryItemID in body should match"},
		{"libraryItemID with a line separator", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemID = "a\u2028b"
		}, "spec.libraryItemID in body should match"},
		{"libraryItemContentVersion with a newline", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemContentVersion = "1\n"
		}, "spec.libraryItemContentVersion in body should match"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := testenv.NewSession(ns, "create-"+string(rune('a'+i)), 0)
			tc.mutate(us)
			err := env.Client.Create(context.Background(), us)
			checkErr(t, err, tc.wantErr)
		})
	}
}

func TestSpecUpdateValidation(t *testing.T) {
	ns := env.Namespace(t)
	cases := []struct {
		name    string
		mutate  func(*v1alpha1.UpdateSession)
		wantErr string
	}{
		{"changing libraryItemID", func(us *v1alpha1.UpdateSession) { us.Spec.LibraryItemID = "other" }, "libraryItemID is immutable"},
		{"changing libraryItemContentVersion", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemContentVersion = "2"
		}, "libraryItemContentVersion is immutable"},
		{"removing libraryItemContentVersion", func(us *v1alpha1.UpdateSession) {
			us.Spec.LibraryItemContentVersion = ""
		}, "libraryItemContentVersion is immutable"},
		{"changing warningBehavior is allowed", func(us *v1alpha1.UpdateSession) {
			us.Spec.WarningBehavior = []v1alpha1.WarningBehavior{{Type: v1alpha1.WarningNotYetValid, Ignored: true}}
		}, ""},
		{"changing the timeout is allowed", func(us *v1alpha1.UpdateSession) {
			us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](60)
		}, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := testenv.NewSession(ns, "spec-"+string(rune('a'+i)), 0)
			us.Spec.LibraryItemContentVersion = "1"
			mustCreate(t, us)
			tc.mutate(us)
			checkErr(t, env.Client.Update(context.Background(), us), tc.wantErr)
		})
	}
}

func TestAddingContentVersionIsRefused(t *testing.T) {
	ns := env.Namespace(t)
	us := testenv.NewSession(ns, "no-version", 0)
	mustCreate(t, us)
	us.Spec.LibraryItemContentVersion = "3"
	checkErr(t, env.Client.Update(context.Background(), us), "libraryItemContentVersion is immutable")
}

func TestSpecOfEndedSessionIsFrozen(t *testing.T) {
	ns := env.Namespace(t)
	us := testenv.NewSession(ns, "ended", 0)
	mustCreate(t, us)
	us.Status = activeStatus(us, 10)
	us.Status.State = v1alpha1.StateDone
	mustUpdateStatus(t, us)
	us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](99)
	checkErr(t, env.Client.Update(context.Background(), us), "spec cannot change once the session has ended")
}

func TestStatusValidation(t *testing.T) {
	ns := env.Namespace(t)
	later := func(st *v1alpha1.UpdateSessionStatus, d time.Duration) *metav1.MicroTime {
		m := metav1.NewMicroTime(st.LastActivity.Add(d))
		return &m
	}
	cases := []struct {
		name    string
		from    v1alpha1.SessionState
		mutate  func(*v1alpha1.UpdateSessionStatus)
		wantErr string
	}{
		{"progress moving up", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ClientProgress = 60 }, ""},
		{"progress moving down", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ClientProgress = 9 }, "clientProgress never decreases"},
		{"progress above 100", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ClientProgress = 101 }, "should be less than or equal to 100"},
		{"lastActivity moving forward", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.LastActivity = later(st, time.Microsecond)
		}, ""},
		{"lastActivity moving back", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.LastActivity = later(st, -time.Microsecond)
		}, "lastActivity never decreases"},
		{"lastActivity removed", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.LastActivity = nil }, "lastActivity cannot be removed"},
		{"ACTIVE to DONE", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.State = v1alpha1.StateDone }, ""},
		{"DONE to ACTIVE", v1alpha1.StateDone, func(st *v1alpha1.UpdateSessionStatus) { st.State = v1alpha1.StateActive }, "a terminal state never changes"},
		{"CANCELED to ERROR", v1alpha1.StateCanceled, func(st *v1alpha1.UpdateSessionStatus) { st.State = v1alpha1.StateError }, "a terminal state never changes"},
		{"unknown state", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.State = "PAUSED" }, `Unsupported value: "PAUSED"`},
		{"state removed", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.State = "" }, "state cannot be removed"},
		{"id changed", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ID = "other" }, "id is immutable"},
		{"id removed", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ID = "" }, "id cannot be removed"},
		{"errorMessage of 1024 characters", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.State, st.ErrorMessage = v1alpha1.StateError, strings.Repeat("é", 1024)
		}, ""},
		{"errorMessage of 1025 characters", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.State, st.ErrorMessage = v1alpha1.StateError, strings.Repeat("m", 1025)
		}, "status.errorMessage: Too long"},
		{"errorMessage with a newline", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.State, st.ErrorMessage = v1alpha1.StateError, "line 1\nline 2"
		}, "errorMessage in body should match"},
		{"expirationTime at lastActivity", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.ExpirationTime = later(st, 0)
		}, ""},
		{"expirationTime before lastActivity", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.ExpirationTime = later(st, -time.Microsecond)
		}, "expirationTime must lie within lastActivity and lastActivity + 86400s"},
		{"expirationTime at lastActivity + 86400s", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.ExpirationTime = later(st, 86400*time.Second)
		}, ""},
		{"expirationTime past lastActivity + 86400s", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) {
			st.ExpirationTime = later(st, 86400*time.Second+time.Microsecond)
		}, "expirationTime must lie within lastActivity and lastActivity + 86400s"},
		{"expirationTime removed", v1alpha1.StateActive, func(st *v1alpha1.UpdateSessionStatus) { st.ExpirationTime = nil }, "expirationTime cannot be removed"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := testenv.NewSession(ns, "status-"+string(rune('a'+i)), 0)
			mustCreate(t, us)
			us.Status = activeStatus(us, 10)
			us.Status.State = tc.from
			mustUpdateStatus(t, us)
			tc.mutate(&us.Status)
			checkErr(t, env.Client.Status().Update(context.Background(), us), tc.wantErr)
		})
	}
}

// TestExpirationTimeWithinSpecTimeout: where the spec sets a timeout, a status write that moves
// lastActivity or expirationTime keeps expirationTime within lastActivity + that timeout.
func TestExpirationTimeWithinSpecTimeout(t *testing.T) {
	ns := env.Namespace(t)
	cases := []struct {
		name    string
		after   time.Duration // expirationTime - lastActivity
		wantErr string
	}{
		{"expirationTime at lastActivity + the timeout", 60 * time.Second, ""},
		{"expirationTime a microsecond past lastActivity + the timeout", 60*time.Second + time.Microsecond,
			"expirationTime must not be later than lastActivity + spec.expirationTimeoutSeconds"},
		{"expirationTime within the 86400s bound but past the timeout", time.Hour,
			"expirationTime must not be later than lastActivity + spec.expirationTimeoutSeconds"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			us := testenv.NewSession(ns, "spec-timeout-"+string(rune('a'+i)), 60)
			mustCreate(t, us)
			us.Status = activeStatus(us, 0)
			us.Status.ExpirationTime = new(metav1.NewMicroTime(us.Status.LastActivity.Add(tc.after)))
			checkErr(t, env.Client.Status().Update(context.Background(), us), tc.wantErr)
		})
	}
}

// TestLoweringTheTimeoutIsAllowed: a spec timeout may be lowered below what the stored
// expirationTime was computed with; the next status write that moves the pair must follow it.
func TestLoweringTheTimeoutIsAllowed(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	us := testenv.NewSession(ns, "lowered", 3600)
	mustCreate(t, us)
	us.Status = activeStatus(us, 0)
	us.Status.ExpirationTime = new(metav1.NewMicroTime(us.Status.LastActivity.Add(time.Hour)))
	mustUpdateStatus(t, us)

	us.Spec.ExpirationTimeoutSeconds = ptr.To[int32](60)
	checkErr(t, env.Client.Update(ctx, us), "")
	us.Status.ClientProgress = 5 // lastActivity and expirationTime as they were
	checkErr(t, env.Client.Status().Update(ctx, us), "")

	moved := us.Status.LastActivity.Add(time.Second)
	us.Status.LastActivity = new(metav1.NewMicroTime(moved))
	us.Status.ExpirationTime = new(metav1.NewMicroTime(moved.Add(time.Hour)))
	checkErr(t, env.Client.Status().Update(ctx, us),
		"expirationTime must not be later than lastActivity + spec.expirationTimeoutSeconds")
	us.Status.ExpirationTime = new(metav1.NewMicroTime(moved.Add(time.Minute)))
	checkErr(t, env.Client.Status().Update(ctx, us), "")
}

// TestOperatorStatusWritesMeetTheSchema writes the statuses the operator's session rules make,
// at times with nanoseconds that the status cannot hold, with the longest default timeout and
// the spec's shortest and longest: the API server must accept every one.
func TestOperatorStatusWritesMeetTheSchema(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	pol := session.Policy{DefaultTimeout: v1alpha1.MaxExpirationTimeoutSeconds * time.Second}
	for i, timeout := range []int32{0, 1, 7, v1alpha1.MaxExpirationTimeoutSeconds} {
		t.Run(fmt.Sprintf("timeout %ds", timeout), func(t *testing.T) {
			us := testenv.NewSession(ns, "operator-"+string(rune('a'+i)), timeout)
			mustCreate(t, us)
			now := time.Now().Add(123456789 * time.Nanosecond)
			pol.Sync(us, now)
			mustUpdateStatus(t, us)
			for _, step := range []time.Duration{999, 1_000_001, time.Second + 999_999_999} {
				now = now.Add(step)
				pol.Touch(us, now)
				mustUpdateStatus(t, us)
			}
			if _, err := pol.Finish(us, v1alpha1.StateError, "disk full\n\x1b[31m"+strings.Repeat("\xff", 2000), now); err != nil {
				t.Fatal(err)
			}
			if err := env.Client.Status().Update(ctx, us); err != nil {
				t.Fatalf("status update: %v", err)
			}
		})
	}
}

func TestNegativeProgressIsRefused(t *testing.T) {
	ns := env.Namespace(t)
	us := testenv.NewSession(ns, "negative", 0)
	mustCreate(t, us)
	us.Status = activeStatus(us, -1)
	checkErr(t, env.Client.Status().Update(context.Background(), us), "should be greater than or equal to 0")
}

// activeStatus is the status of an ACTIVE session last active now, expiring in 5 minutes.
func activeStatus(us *v1alpha1.UpdateSession, progress int64) v1alpha1.UpdateSessionStatus {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return v1alpha1.UpdateSessionStatus{Lifecycle: v1alpha1.Lifecycle{
		ID: string(us.UID), State: v1alpha1.StateActive, ClientProgress: progress,
		LastActivity: new(metav1.NewMicroTime(now)), ExpirationTime: new(metav1.NewMicroTime(now.Add(5 * time.Minute))),
	}}
}

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create: %v", err)
	}
}

func mustUpdateStatus(t *testing.T, us *v1alpha1.UpdateSession) {
	t.Helper()
	if err := env.Client.Status().Update(context.Background(), us); err != nil {
		t.Fatalf("status update: %v", err)
	}
}

// checkErr fails unless err is nil when want is empty, or contains want otherwise.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("want accepted, got %v", err)
	case want != "" && err == nil:
		t.Fatalf("want refused with %q, got accepted", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("want error containing %q, got %v", want, err)
	}
}
