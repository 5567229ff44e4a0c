package refresh

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
)

// now is the fake clock's time. The policy's coalescing window is 10s (MaxCoalesce under a
// tenth of the hour's timeout): a refresh is due 9.5s after lastActivity, and left to the
// keep-alives themselves 20s after.
var (
	now    = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	policy = session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour, MaxCoalesce: 10 * time.Second}

	errDown = apierrors.NewServiceUnavailable("the API server is down")
	errGone = apierrors.NewNotFound(schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: "updatesessions"}, "s")
)

// active is an ACTIVE session named name, its id its UID, last active at last.
func active(name string, last time.Time) *v1alpha1.UpdateSession {
	at := metav1.NewMicroTime(last)
	return &v1alpha1.UpdateSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name)},
		Spec:       v1alpha1.UpdateSessionSpec{LibraryItemID: "item-" + name},
		Status:     v1alpha1.UpdateSessionStatus{Lifecycle: v1alpha1.Lifecycle{ID: name, State: v1alpha1.StateActive, LastActivity: &at}},
	}
}

// fixture is a Refresher over a store whose cache holds cached and whose API server holds
// stored; every status write goes through answer (nil: the fake API server answers). It
// returns the Refresher, the store's fake client and a count of the status writes sent.
func fixture(t *testing.T, stored, cached []*v1alpha1.UpdateSession, answer func() error) (*Refresher, client.Client, *int) {
	t.Helper()
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	writes := 0
	objs := make([]client.Object, 0, len(stored))
	for _, us := range stored {
		objs = append(objs, us.DeepCopy())
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.UpdateSession{}).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object,
				opts ...client.SubResourceUpdateOption) error {
				writes++
				if answer != nil {
					if err := answer(); err != nil {
						return err
					}
				}
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
		}).Build()
	clk := clocktesting.NewFakePassiveClock(now)
	s := store.New(c, c, clk)
	informers := &informertest.FakeInformers{Scheme: scheme}
	if err := s.Watch(ctx, informers); err != nil {
		t.Fatal(err)
	}
	informer, err := informers.FakeInformerFor(ctx, &v1alpha1.UpdateSession{})
	if err != nil {
		t.Fatal(err)
	}
	for _, us := range cached {
		// The cache holds what the API server holds, at its resourceVersion, unless the test says otherwise.
		cur := us.DeepCopy()
		var live v1alpha1.UpdateSession
		if err := c.Get(ctx, client.ObjectKeyFromObject(us), &live); err == nil && cur.ResourceVersion == "" {
			cur.ResourceVersion = live.ResourceVersion
		}
		informer.Add(cur)
	}
	return New(s, policy, clk, funcr.New(func(string, string) {}, funcr.Options{})), c, &writes
}

// TestWrite: what a refresh of a keep-alive answered without a write writes, and when it
// writes nothing.
func TestWrite(t *testing.T) {
	cases := []struct {
		name string
		// queued is the session as the keep-alive found it, at keepAlive; cached and stored are
		// what the store's cache and the API server hold by the time of the refresh (nil: as queued).
		queued           *v1alpha1.UpdateSession
		keepAlive        time.Time
		cached, stored   *v1alpha1.UpdateSession
		notCached        bool
		answer           func() error
		wantErr          func(error) bool
		wantWrites       int
		wantRefreshes    float64
		wantLastActivity time.Time // on the API server afterwards
	}{
		{name: "a keep-alive in the lead of its window is written as its own time",
			queued: active("s", now.Add(-9800*time.Millisecond)), keepAlive: now.Add(-100 * time.Millisecond),
			wantWrites: 1, wantRefreshes: 1, wantLastActivity: now.Add(-100 * time.Millisecond)},
		{name: "a session written since the keep-alive was queued needs nothing",
			queued: active("s", now.Add(-9800*time.Millisecond)), keepAlive: now.Add(-100 * time.Millisecond),
			cached: active("s", now.Add(-50*time.Millisecond)), stored: active("s", now.Add(-50*time.Millisecond)),
			wantLastActivity: now.Add(-50 * time.Millisecond)},
		{name: "a session past two windows is left to its own keep-alives",
			queued: active("s", now.Add(-21*time.Second)), keepAlive: now.Add(-10 * time.Second),
			wantLastActivity: now.Add(-21 * time.Second)},
		{name: "a session gone from the cache is not written",
			queued: active("s", now.Add(-9800*time.Millisecond)), keepAlive: now, notCached: true,
			wantLastActivity: now.Add(-9800 * time.Millisecond)},
		{name: "a session that ended is not written",
			queued: active("s", now.Add(-9800*time.Millisecond)), keepAlive: now,
			cached: done("s", now.Add(-9800*time.Millisecond)), stored: done("s", now.Add(-9800*time.Millisecond)),
			wantLastActivity: now.Add(-9800 * time.Millisecond)},
		{name: "a keep-alive written meanwhile, not yet cached, makes the refresh conflict and write nothing",
			queued: active("s", now.Add(-9800*time.Millisecond)), keepAlive: now.Add(-100 * time.Millisecond),
			stored:     active("s", now.Add(-200*time.Millisecond)),
			cached:     withVersion(active("s", now.Add(-9800*time.Millisecond)), "1"),
			wantWrites: 1, wantLastActivity: now.Add(-200 * time.Millisecond)},
		{name: "a session deleted under the refresh is no error",
			queued: active("s", now.Add(-9800*time.Millisecond)), keepAlive: now,
			answer: func() error { return errGone }, wantWrites: 1,
			wantLastActivity: now.Add(-9800 * time.Millisecond)},
		{name: "a failed write is the refresh's error, not retried",
			queued: active("s", now.Add(-9800*time.Millisecond)), keepAlive: now,
			answer: func() error { return errDown }, wantWrites: 1,
			wantErr:          apierrors.IsServiceUnavailable,
			wantLastActivity: now.Add(-9800 * time.Millisecond)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stored, cached := tc.queued, tc.queued
			if tc.stored != nil {
				stored = tc.stored
			}
			if tc.cached != nil {
				cached = tc.cached
			}
			inCache := []*v1alpha1.UpdateSession{cached}
			if tc.notCached {
				inCache = nil
			}
			r, c, writes := fixture(t, []*v1alpha1.UpdateSession{stored}, inCache, tc.answer)
			refreshes := testutil.ToFloat64(metrics.KeepAliveRefreshes)

			err := r.write(context.Background(), keepAlive{session: tc.queued, at: tc.keepAlive})

			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("write: %v", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("write: error %v, not the one expected", err)
			}
			if *writes != tc.wantWrites {
				t.Errorf("%d status writes, want %d", *writes, tc.wantWrites)
			}
			if got := testutil.ToFloat64(metrics.KeepAliveRefreshes) - refreshes; got != tc.wantRefreshes {
				t.Errorf("%v refreshes counted, want %v", got, tc.wantRefreshes)
			}
			var live v1alpha1.UpdateSession
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(tc.queued), &live); err != nil {
				t.Fatal(err)
			}
			if got := live.Status.LastActivity.Time; !got.Equal(tc.wantLastActivity) {
				t.Errorf("lastActivity on the API server %v, want %v", got, tc.wantLastActivity)
			}
		})
	}
}

// done is a session that ended at last.
func done(name string, last time.Time) *v1alpha1.UpdateSession {
	us := active(name, last)
	us.Status.State = v1alpha1.StateDone
	return us
}

// withVersion is us at resourceVersion rv: an older version than the API server's.
func withVersion(us *v1alpha1.UpdateSession, rv string) *v1alpha1.UpdateSession {
	us.ResourceVersion = rv
	return us
}

// TestQueue: a refresh is queued once per session with its latest keep-alive, and a keep-alive
// joins a refresh only while one is queued or being written.
func TestQueue(t *testing.T) {
	earlier, later := now.Add(-time.Second), now
	cases := []struct {
		name       string
		queue      []time.Time // keep-alives queued first
		writing    bool        // a refresh of the session is being written
		join       time.Time   // the keep-alive that asks to join
		wantJoined bool
		wantAt     time.Time // the keep-alive queued afterwards; zero: none
	}{
		{name: "no refresh queued or being written: not joined", join: later},
		{name: "a refresh queued: joined, with the later keep-alive", queue: []time.Time{earlier}, join: later,
			wantJoined: true, wantAt: later},
		{name: "a refresh queued with a later keep-alive keeps it", queue: []time.Time{later}, join: earlier,
			wantJoined: true, wantAt: later},
		{name: "a refresh being written: joined, for the next batch", writing: true, join: later,
			wantJoined: true, wantAt: later},
		{name: "queued twice: the later keep-alive is kept", queue: []time.Time{later, earlier}, join: time.Time{},
			wantJoined: true, wantAt: later},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := fixture(t, nil, nil, nil)
			us := active("s", now.Add(-9*time.Second))
			for _, at := range tc.queue {
				r.Queue(us, at)
			}
			if tc.writing {
				r.writing[us.UID] = true
			}
			joined := r.JoinPending(us, tc.join)
			if joined != tc.wantJoined {
				t.Errorf("JoinPending = %v, want %v", joined, tc.wantJoined)
			}
			queued, ok := r.queue[us.UID]
			if ok != !tc.wantAt.IsZero() || (ok && !queued.at.Equal(tc.wantAt)) {
				t.Errorf("queued: %v at %v, want the keep-alive at %v", ok, queued.at, tc.wantAt)
			}
			if woken := len(r.wake) == 1; woken != ok {
				t.Errorf("a wake-up pending: %v, want one exactly when a refresh is queued", woken)
			}
		})
	}
}

// TestFlushWritesTheBatchAndLogsFailuresOnce: a flush writes every queued session, empties the
// queue and the sessions being written, and logs its failures once for the batch.
func TestFlushWritesTheBatchAndLogsFailuresOnce(t *testing.T) {
	sessions := make([]*v1alpha1.UpdateSession, 0, 3)
	for _, name := range []string{"a", "b", "c"} {
		sessions = append(sessions, active(name, now.Add(-9800*time.Millisecond)))
	}
	fail := true
	r, _, writes := fixture(t, sessions, sessions, func() error {
		if fail {
			return errDown
		}
		return nil
	})
	var logged []string
	r.log = funcr.New(func(prefix, args string) { logged = append(logged, args) }, funcr.Options{})
	for _, us := range sessions {
		r.Queue(us, now)
	}
	r.flush(context.Background())
	if *writes != len(sessions) || len(r.queue) != 0 || len(r.writing) != 0 {
		t.Errorf("after a flush: %d writes, %d queued, %d being written; want %d, 0, 0",
			*writes, len(r.queue), len(r.writing), len(sessions))
	}
	if len(logged) != 1 || !strings.Contains(logged[0], `"failed"=3`) {
		t.Errorf("logged %q, want one line for the batch with its 3 failures", logged)
	}
	fail, logged = false, nil
	for _, us := range sessions {
		r.Queue(us, now)
	}
	r.flush(context.Background())
	if *writes != 2*len(sessions) || len(logged) != 0 {
		t.Errorf("a flush that succeeds: %d writes in all, logged %q; want %d and nothing", *writes, logged, 2*len(sessions))
	}
}
