package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	k8sevents "k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/controllers"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/index"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// now is the fake clock's time in the decision table; sessions are created 10 minutes before.
var (
	now     = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	created = now.Add(-10 * time.Minute)
)

// tablePolicy is the policy of the decision table.
var tablePolicy = session.Policy{DefaultTimeout: 5 * time.Minute, TerminalRetention: 2 * time.Minute}

// fixtureSession is a session named name on item, created at created, with its status at
// lastActivity in state (an uninitialised status when state is empty).
func fixtureSession(name, item string, state v1alpha1.SessionState, lastActivity time.Time) *v1alpha1.UpdateSession {
	us := testenv.NewSession("ns", name, 0)
	us.UID = types.UID("uid-" + name)
	us.Spec.LibraryItemID = item
	us.CreationTimestamp = metav1.NewTime(created)
	if state == "" {
		return us
	}
	at := lastActivity
	if state != v1alpha1.StateActive {
		at = created // becomes lastActivity below; the state is stamped at lastActivity
	}
	tablePolicy.Sync(us, at)
	tablePolicy.Touch(us, lastActivity)
	if state != v1alpha1.StateActive {
		if _, err := tablePolicy.Finish(us, state, "failed by the client", lastActivity); err != nil {
			panic(err)
		}
	}
	return us
}

// TestReconcileDecisions runs Reconcile on a fake clock, a fake client and a fake recorder,
// and checks its decisions: the requeue, what it wrote, what it deleted and what it recorded.
func TestReconcileDecisions(t *testing.T) {
	cases := []struct {
		name    string
		objects []*v1alpha1.UpdateSession
		// reconciled is the session reconciled: objects[reconciled].
		reconciled  int
		wantRequeue time.Duration
		wantDeleted bool
		wantState   v1alpha1.SessionState
		// wantLast is the lastActivity expected after the reconcile (zero: not checked).
		wantLast    time.Time
		wantEvent   string
		wantWritten bool
	}{
		{name: "a new session gets its status and waits its whole timeout from creation",
			objects: []*v1alpha1.UpdateSession{func() *v1alpha1.UpdateSession {
				us := fixtureSession("new", "a", "", time.Time{})
				us.CreationTimestamp = metav1.NewTime(now)
				return us
			}()},
			wantRequeue: 5 * time.Minute, wantState: v1alpha1.StateActive, wantLast: now, wantWritten: true},
		{name: "a new session created longer than its timeout ago gets its status, then is deleted (5 min late: event folded)",
			objects:     []*v1alpha1.UpdateSession{fixtureSession("late", "a", "", time.Time{})},
			wantDeleted: true, wantEvent: "Normal ExpiredBurst", wantWritten: true},
		{name: "a session kept alive 100s ago waits exactly its remaining 200s",
			objects:     []*v1alpha1.UpdateSession{fixtureSession("kept", "a", v1alpha1.StateActive, now.Add(-100*time.Second))},
			wantRequeue: 200 * time.Second, wantState: v1alpha1.StateActive},
		{name: "a session idle for 300.5s with a 300s timeout is deleted, with an Expired event",
			objects:     []*v1alpha1.UpdateSession{fixtureSession("idle", "a", v1alpha1.StateActive, now.Add(-300500*time.Millisecond))},
			wantDeleted: true, wantEvent: "Normal Expired"},
		{name: "a session found 2s past its expiration time is deleted; the reconciler is behind, so its event is folded",
			objects:     []*v1alpha1.UpdateSession{fixtureSession("behind", "a", v1alpha1.StateActive, now.Add(-302*time.Second))},
			wantDeleted: true, wantEvent: "Normal ExpiredBurst"},
		{name: "a session exactly at its expiration time is deleted",
			objects:     []*v1alpha1.UpdateSession{fixtureSession("edge", "a", v1alpha1.StateActive, now.Add(-300*time.Second))},
			wantDeleted: true, wantEvent: "Normal Expired"},
		{name: "a session completed 30s ago waits the rest of its 2-minute retention",
			objects:     []*v1alpha1.UpdateSession{fixtureSession("done", "a", v1alpha1.StateDone, now.Add(-30*time.Second))},
			wantRequeue: 90 * time.Second, wantState: v1alpha1.StateDone},
		{name: "a session canceled 120.5s ago has its retention over and is deleted",
			objects:     []*v1alpha1.UpdateSession{fixtureSession("gone", "a", v1alpha1.StateCanceled, now.Add(-120500*time.Millisecond))},
			wantDeleted: true, wantEvent: "Normal RetentionOver"},
		{name: "the newer of two ACTIVE sessions of an item is failed, with a Superseded event",
			objects: []*v1alpha1.UpdateSession{
				fixtureSession("a-older", "shared", v1alpha1.StateActive, now.Add(-10*time.Second)),
				func() *v1alpha1.UpdateSession {
					us := fixtureSession("b-newer", "shared", v1alpha1.StateActive, now.Add(-5*time.Second))
					us.CreationTimestamp = metav1.NewTime(created.Add(time.Second))
					return us
				}(),
			},
			reconciled:  1,
			wantRequeue: 2 * time.Minute, wantState: v1alpha1.StateError, wantEvent: "Warning Superseded", wantWritten: true},
		{name: "the older of two ACTIVE sessions of an item stays ACTIVE, and the newer is failed",
			objects: []*v1alpha1.UpdateSession{
				fixtureSession("a-older", "shared", v1alpha1.StateActive, now.Add(-10*time.Second)),
				fixtureSession("b-newer", "shared", v1alpha1.StateActive, now.Add(-5*time.Second)),
			},
			wantRequeue: 290 * time.Second, wantState: v1alpha1.StateActive, wantEvent: "Warning Superseded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var deletes []client.DeleteOptions
			var statusWrites int
			objs := make([]client.Object, len(tc.objects))
			for i, us := range tc.objects {
				objs[i] = us.DeepCopy()
			}
			c := fake.NewClientBuilder().WithScheme(testenv.Scheme).
				WithObjects(objs...).WithStatusSubresource(&v1alpha1.UpdateSession{}).
				WithIndex(&v1alpha1.UpdateSession{}, index.LibraryItem, index.ByLibraryItem).
				WithInterceptorFuncs(interceptor.Funcs{
					Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
						var o client.DeleteOptions
						o.ApplyOptions(opts)
						deletes = append(deletes, o)
						return c.Delete(ctx, obj, opts...)
					},
					SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object,
						opts ...client.SubResourceUpdateOption) error {
						if obj.GetName() == tc.objects[tc.reconciled].Name {
							statusWrites++
						}
						return c.SubResource(sub).Update(ctx, obj, opts...)
					},
				}).Build()
			clk := clocktesting.NewFakePassiveClock(now)
			recorder := k8sevents.NewFakeRecorder(10)
			deletions := events.NewDeletions(recorder)
			r := &controllers.UpdateSessionReconciler{
				Reader: c, Store: store.New(c, c, clk), Recorder: recorder, Deletions: deletions, Clock: clk, Policy: tablePolicy,
			}
			target := tc.objects[tc.reconciled]
			res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(target)})
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			flushFolded(deletions)
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, tc.wantRequeue)
			}
			if got := statusWrites > 0; got != tc.wantWritten {
				t.Errorf("status written = %v, want %v", got, tc.wantWritten)
			}
			checkEvent(t, recorder, tc.wantEvent)

			var after v1alpha1.UpdateSession
			err = c.Get(context.Background(), client.ObjectKeyFromObject(target), &after)
			if tc.wantDeleted {
				if !apierrors.IsNotFound(err) {
					t.Fatalf("session not deleted: %v", err)
				}
				checkPreconditions(t, deletes, target)
				return
			}
			if err != nil {
				t.Fatalf("session deleted or unreadable: %v", err)
			}
			if len(deletes) > 0 {
				t.Errorf("%d deletes, want none", len(deletes))
			}
			if after.Status.State != tc.wantState {
				t.Errorf("state %s, want %s", after.Status.State, tc.wantState)
			}
			if !tc.wantLast.IsZero() && !after.Status.LastActivity.Time.Equal(tc.wantLast) {
				t.Errorf("lastActivity %v, want %v", after.Status.LastActivity, tc.wantLast)
			}
		})
	}
}

// flushFolded records the deletion events folded so far.
func flushFolded(d *events.Deletions) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = d.Start(ctx) // returns at once, flushing once
}

// checkPreconditions checks that the one delete carried the session's UID and the
// resourceVersion its decision was made on.
func checkPreconditions(t *testing.T, deletes []client.DeleteOptions, us *v1alpha1.UpdateSession) {
	t.Helper()
	if len(deletes) != 1 || deletes[0].Preconditions == nil {
		t.Fatalf("deletes %+v, want one with preconditions", deletes)
	}
	p := deletes[0].Preconditions
	if p.UID == nil || *p.UID != us.UID || p.ResourceVersion == nil || *p.ResourceVersion == "" {
		t.Errorf("preconditions %+v, want UID %s and a resourceVersion", p, us.UID)
	}
}

// checkEvent checks the reasons recorded: want ("Type Reason"), or none when want is empty.
func checkEvent(t *testing.T, recorder *k8sevents.FakeRecorder, want string) {
	t.Helper()
	var got []string
	for len(recorder.Events) > 0 {
		ev := <-recorder.Events
		fields := strings.SplitN(ev, " ", 3)
		got = append(got, fields[0]+" "+fields[1])
	}
	var wantList []string
	if want != "" {
		wantList = []string{want}
	}
	if diff := cmp.Diff(wantList, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
