package controllers_test

import (
	"context"
	"slices"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	k8sevents "k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/controllers"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// waitDeleted bounds how long a test waits for a deletion; how late it may be is
// env.LatenessBound().
const waitDeleted = time.Minute

func policy(timeout, retention time.Duration) operator.Options {
	return operator.Options{Policy: session.Policy{DefaultTimeout: timeout, TerminalRetention: retention}, Concurrency: 4}
}

func TestNewSessionStatusIsInitialised(t *testing.T) {
	ns := env.Namespace(t)
	env.StartOperator(t, ns, policy(7*time.Minute, time.Minute))

	us := env.CreateSession(t, testenv.NewSession(ns, "fresh", 0))

	created := us.CreationTimestamp.Time
	if us.Status.ID != string(us.UID) || us.Status.State != v1alpha1.StateActive || us.Status.ClientProgress != 0 {
		t.Errorf("status = %+v, want id %s, ACTIVE, progress 0", us.Status, us.UID)
	}
	if !us.Status.LastActivity.Time.Equal(created) {
		t.Errorf("lastActivity = %v, want the creation time %v", us.Status.LastActivity, created)
	}
	if want := created.Add(7 * time.Minute); !us.Status.ExpirationTime.Time.Equal(want) {
		t.Errorf("expirationTime = %v, want %v (creation + --session-timeout)", us.Status.ExpirationTime, want)
	}
	if c := findCondition(us, v1alpha1.ConditionActive); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Active condition = %+v, want True", c)
	}
}

func TestIdleSessionExpiresAtItsDeadline(t *testing.T) {
	ns := env.Namespace(t)
	deletions := env.WatchDeletions(t, ns)
	env.StartOperator(t, ns, policy(time.Hour, time.Hour))

	names := []string{"idle-a", "idle-b", "idle-c"}
	expires := map[string]time.Time{}
	for _, name := range names {
		us := env.CreateSession(t, testenv.NewSession(ns, name, 2))
		expires[name] = us.Status.ExpirationTime.Time
	}
	for _, name := range names {
		deleted := deletions.Wait(t, name, waitDeleted)
		lateness := deleted.Sub(expires[name])
		t.Logf("%s: deleted %v after its expirationTime", name, lateness.Round(time.Millisecond))
		if bound := env.LatenessBound(); lateness < 0 || lateness > bound {
			t.Errorf("%s deleted %v after its expirationTime, want within [0, %v]", name, lateness, bound)
		}
	}
	expectEvent(t, ns, "idle-a", events.ReasonExpired)
}

func TestSessionWithLongerTimeoutOutlivesShortOne(t *testing.T) {
	ns := env.Namespace(t)
	deletions := env.WatchDeletions(t, ns)
	env.StartOperator(t, ns, policy(time.Hour, time.Hour))

	env.CreateShortLived(t, testenv.NewSession(ns, "short", 1))
	long := env.CreateSession(t, testenv.NewSession(ns, "long", 3600))
	deletions.Wait(t, "short", waitDeleted)

	if _, gone := deletions.At("long"); gone {
		t.Fatal("session with a one-hour timeout was deleted")
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(long), long); err != nil {
		t.Fatalf("session with a one-hour timeout: %v", err)
	}
}

func TestShorteningTheTimeoutReschedulesExpiry(t *testing.T) {
	ns := env.Namespace(t)
	deletions := env.WatchDeletions(t, ns)
	env.StartOperator(t, ns, policy(time.Hour, time.Hour))
	us := env.CreateSession(t, testenv.NewSession(ns, "shortened", 3600))

	patch := client.MergeFrom(us.DeepCopy())
	us.Spec.ExpirationTimeoutSeconds = new(int32(1))
	if err := env.Client.Patch(context.Background(), us, patch); err != nil {
		t.Fatal(err)
	}
	deletions.Wait(t, "shortened", waitDeleted)
}

func TestTerminalSessionIsDeletedAfterRetention(t *testing.T) {
	for _, state := range []v1alpha1.SessionState{v1alpha1.StateDone, v1alpha1.StateError, v1alpha1.StateCanceled} {
		t.Run(string(state), func(t *testing.T) {
			ns := env.Namespace(t)
			deletions := env.WatchDeletions(t, ns)
			const retention = 2 * time.Second
			env.StartOperator(t, ns, policy(time.Hour, retention))
			us := env.CreateSession(t, testenv.NewSession(ns, "ended", 0))

			ended := endSession(t, us, state)
			deleted := deletions.Wait(t, "ended", waitDeleted)
			if kept := deleted.Sub(ended); kept < retention-time.Second || kept > retention+env.LatenessBound() {
				// The Active condition's transition time has second precision.
				t.Errorf("kept %v after it ended, want about %v", kept, retention)
			}
			expectEvent(t, ns, "ended", events.ReasonRetentionOver)
		})
	}
}

func TestRestartPicksUpEveryDeadline(t *testing.T) {
	ns := env.Namespace(t)
	deletions := env.WatchDeletions(t, ns)
	first := env.StartOperator(t, ns, policy(time.Hour, time.Hour))
	due := make([]*v1alpha1.UpdateSession, 0, 4)
	for _, name := range []string{"r1", "r2", "r3", "r4"} {
		due = append(due, env.CreateSession(t, testenv.NewSession(ns, name, 2)))
	}
	env.CreateSession(t, testenv.NewSession(ns, "r-long", 3600))
	first.Stop()
	stopped := time.Now()

	// Wait until every short session is overdue, with no operator running. (Under load the
	// first operator may have expired some already, before it stopped: that is correct.)
	for _, us := range due {
		time.Sleep(time.Until(us.Status.ExpirationTime.Time))
	}
	for _, us := range due {
		if at, gone := deletions.At(us.Name); gone && at.After(stopped) {
			t.Fatalf("%s deleted at %v, while no operator ran", us.Name, at)
		}
	}
	restarted := time.Now()
	env.StartOperator(t, ns, policy(time.Hour, time.Hour))
	for _, us := range due {
		at := deletions.Wait(t, us.Name, waitDeleted)
		t.Logf("%s deleted %v after the restart", us.Name, at.Sub(restarted).Round(time.Millisecond))
	}
	if _, gone := deletions.At("r-long"); gone {
		t.Error("session with a one-hour timeout was deleted after the restart")
	}
}

// TestKeepAliveRacingWithExpiryWins drives the reconciler directly: a keep-alive lands after
// the reconciler decided the session is due and before its delete reaches the API server. The
// delete's preconditions must make the keep-alive win.
func TestKeepAliveRacingWithExpiryWins(t *testing.T) {
	ns := env.Namespace(t)
	us := testenv.NewSession(ns, "raced", 60)
	if err := env.Client.Create(context.Background(), us); err != nil {
		t.Fatal(err)
	}
	pol := session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour}
	past := metav1.NewMicroTime(time.Now().Add(-2 * time.Minute).UTC().Truncate(time.Microsecond))
	pol.Sync(us, time.Now())
	us.Status.LastActivity = &past
	us.Status.ExpirationTime = new(metav1.NewMicroTime(pol.ExpiresAt(us)))
	if err := env.Client.Status().Update(context.Background(), us); err != nil {
		t.Fatal(err)
	}

	racer := &keepAliveBeforeDelete{Client: env.Client, policy: pol, t: t}
	r := &controllers.UpdateSessionReconciler{
		Reader: racer, Store: store.New(racer, env.Client, clock.RealClock{}),
		Recorder: k8sevents.NewFakeRecorder(10), Clock: clock.RealClock{}, Policy: pol,
	}
	res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(us)})
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if racer.deletes != 1 {
		t.Errorf("deletes = %d, want one, refused, and no second one on the kept-alive session", racer.deletes)
	}
	if res.RequeueAfter < 50*time.Second {
		t.Errorf("RequeueAfter = %v, want about the 60s timeout", res.RequeueAfter)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(us), us); err != nil {
		t.Fatalf("session kept alive during expiry was deleted: %v", err)
	}
}

// keepAliveBeforeDelete keeps the session alive right before the first delete reaches the
// API server.
type keepAliveBeforeDelete struct {
	client.Client
	policy  session.Policy
	deletes int
	t       *testing.T
}

func (k *keepAliveBeforeDelete) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	k.deletes++
	if k.deletes == 1 {
		var fresh v1alpha1.UpdateSession
		if err := k.Get(ctx, client.ObjectKeyFromObject(obj), &fresh); err != nil {
			return err
		}
		base := fresh.DeepCopy()
		if _, err := k.policy.KeepAlive(&fresh, nil, time.Now()); err != nil {
			return err
		}
		if err := k.Client.Status().Patch(ctx, &fresh, client.MergeFrom(base)); err != nil {
			k.t.Errorf("keep-alive: %v", err)
		}
	}
	return k.Client.Delete(ctx, obj, opts...)
}

// TestStaleHolderDoesNotFailNewSession drives the reconciler with a cache that still shows an
// older session ACTIVE although it ended: the newer session of the same item must stay ACTIVE.
func TestStaleHolderDoesNotFailNewSession(t *testing.T) {
	ns := env.Namespace(t)
	holder := testenv.NewSession(ns, "a-holder", 0)
	newer := testenv.NewSession(ns, "b-newer", 0)
	newer.Spec.LibraryItemID = holder.Spec.LibraryItemID
	pol := session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour}
	for _, us := range []*v1alpha1.UpdateSession{holder, newer} {
		if err := env.Client.Create(context.Background(), us); err != nil {
			t.Fatal(err)
		}
		pol.Sync(us, time.Now())
		if err := env.Client.Status().Update(context.Background(), us); err != nil {
			t.Fatal(err)
		}
	}
	endSession(t, holder, v1alpha1.StateDone)

	r := &controllers.UpdateSessionReconciler{
		Reader: staleCache{Client: env.Client, active: holder.Name}, Store: store.New(env.Client, env.Client, clock.RealClock{}),
		Recorder: k8sevents.NewFakeRecorder(10), Clock: clock.RealClock{}, Policy: pol,
	}
	res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(newer)})
	if err != nil || res.RequeueAfter == 0 {
		t.Fatalf("reconcile = %+v, %v; want a requeue once the cache has caught up", res, err)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(newer), newer); err != nil {
		t.Fatal(err)
	}
	if newer.Status.State != v1alpha1.StateActive {
		t.Fatalf("the newer session is %s (%s), want ACTIVE: its item was free", newer.Status.State, newer.Status.ErrorMessage)
	}
}

// staleCache lists sessions as a lagging cache would: the named one still ACTIVE.
type staleCache struct {
	client.Client
	active string
}

func (s staleCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := s.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	if sessions, ok := list.(*v1alpha1.UpdateSessionList); ok {
		for i := range sessions.Items {
			if sessions.Items[i].Name == s.active {
				sessions.Items[i].Status.State = v1alpha1.StateActive
			}
		}
	}
	return nil
}

// endSession moves us to state through the status subresource, as the REST server does, and
// returns when it ended.
func endSession(t *testing.T, us *v1alpha1.UpdateSession, state v1alpha1.SessionState) time.Time {
	t.Helper()
	base := us.DeepCopy()
	now := time.Now()
	pol := session.Policy{DefaultTimeout: time.Hour}
	if _, err := pol.Finish(us, state, "test failure", now); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Status().Patch(context.Background(), us, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	return now
}

func expectEvent(t *testing.T, ns, name, reason string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			var list eventsv1.EventList
			if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
				return false, err
			}
			return slices.ContainsFunc(list.Items, func(ev eventsv1.Event) bool {
				return ev.Regarding.Name == name && ev.Reason == reason
			}), nil
		})
	if err != nil {
		t.Errorf("no %s event for %s: %v", reason, name, err)
	}
}

func findCondition(us *v1alpha1.UpdateSession, typ string) *metav1.Condition {
	for i := range us.Status.Conditions {
		if us.Status.Conditions[i].Type == typ {
			return &us.Status.Conditions[i]
		}
	}
	return nil
}

// TestStoredExpirationTimeSurvivesAShorterDefault checks that during a rolling update that
// shortens --session-timeout, the replica with the new flag never deletes a session before the
// expirationTime the old one promised.
func TestStoredExpirationTimeSurvivesAShorterDefault(t *testing.T) {
	ns := env.Namespace(t)
	deletions := env.WatchDeletions(t, ns)
	old := env.StartOperator(t, ns, policy(6*time.Second, time.Hour))
	us := env.CreateSession(t, testenv.NewSession(ns, "promised", 0))
	env.StartOperator(t, ns, policy(time.Second, time.Hour)) // the new replica, beside the old one
	old.Stop()
	at := deletions.Wait(t, "promised", waitDeleted)
	if promised := us.Status.ExpirationTime.Time; at.Before(promised) {
		t.Fatalf("deleted at %v, %v before its stored expirationTime %v", at, promised.Sub(at), promised)
	}
}
