// Package controllers holds the UpdateSession reconciler.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/index"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/session"
)

// Event reasons recorded on UpdateSessions.
const (
	// ReasonExpired: the session was idle past its expiration time and is deleted.
	ReasonExpired = "Expired"
	// ReasonRetentionOver: the session ended longer than --terminal-retention ago and is deleted.
	ReasonRetentionOver = "RetentionOver"
	// ReasonSuperseded: the session was failed because an older ACTIVE session holds its item.
	ReasonSuperseded = "Superseded"
)

const (
	// maxDeleteAttempts bounds the deletes of a session that keeps changing at its deadline.
	maxDeleteAttempts = 5
	// staleCacheRetry is how soon a session is reconciled again when the cache was found
	// behind the API server.
	staleCacheRetry = time.Second
)

// errStaleHolder: the cache shows an ACTIVE session holding the item that has ended since.
var errStaleHolder = errors.New("the cached holder of the library item is no longer ACTIVE")

// UpdateSessionReconciler initialises each session's status, requeues it for exactly its
// deadline, and deletes it once the deadline has passed: an ACTIVE session when idle past its
// expiration time, a terminal one when its retention is over.
type UpdateSessionReconciler struct {
	client.Client
	// APIReader reads live objects, bypassing the cache, when a delete found the cache stale.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	Policy    session.Policy
}

// +kubebuilder:rbac:groups=library.contentlib.dev,resources=updatesessions,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=library.contentlib.dev,resources=updatesessions/status,verbs=get;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one session's status up to date, then either waits for its deadline or,
// when the deadline has passed, deletes it.
func (r *UpdateSessionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var us v1alpha1.UpdateSession
	if err := r.Get(ctx, req.NamespacedName, &us); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !us.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if err := r.syncStatus(ctx, &us); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.enforceOneActive(ctx, &us); errors.Is(err, errStaleHolder) {
		return ctrl.Result{RequeueAfter: staleCacheRetry}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	if wait := r.Policy.Remaining(&us, r.Clock.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return r.deleteIfDue(ctx, &us)
}

// syncStatus patches the status to the one the operator maintains, if it differs. The patch
// carries the resourceVersion, so a keep-alive that wrote in between is never overwritten.
func (r *UpdateSessionReconciler) syncStatus(ctx context.Context, us *v1alpha1.UpdateSession) error {
	desired := r.Policy.DesiredStatus(us, r.Clock.Now())
	if equality.Semantic.DeepEqual(desired, us.Status) {
		return nil
	}
	base := us.DeepCopy()
	us.Status = desired
	patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	if err := r.Status().Patch(ctx, us, patch); err != nil {
		return fmt.Errorf("updating status: %w", err)
	}
	logf.FromContext(ctx).V(1).Info("Status synced", "state", us.Status.State, "expirationTime", us.Status.ExpirationTime)
	return nil
}

// enforceOneActive fails every ACTIVE session of us's library item but the oldest, so that a
// second session made with kubectl, or by two REST creates racing, never stays ACTIVE beside
// the first. Whichever of them is reconciled last sees both, and all reconciles agree on which
// one is the oldest.
func (r *UpdateSessionReconciler) enforceOneActive(ctx context.Context, us *v1alpha1.UpdateSession) error {
	if us.Status.State.Terminal() {
		return nil
	}
	var list v1alpha1.UpdateSessionList
	err := r.List(ctx, &list, client.InNamespace(us.Namespace), client.MatchingFields{index.LibraryItem: us.Spec.LibraryItemID})
	if err != nil {
		return err
	}
	holder, dups := session.Duplicates(list.Items)
	if len(dups) == 0 {
		return nil
	}
	// The cache may not have seen the holder end: confirm it on the live object before failing
	// sessions for it.
	var live v1alpha1.UpdateSession
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(holder), &live); client.IgnoreNotFound(err) != nil {
		return err
	} else if err != nil || live.UID != holder.UID || live.Status.State.Terminal() {
		return errStaleHolder
	}
	for _, dup := range dups {
		if err := r.fail(ctx, dup, session.SupersededMessage(holder)); err != nil {
			return fmt.Errorf("failing superseded session %s: %w", dup.Name, err)
		}
		if dup.UID == us.UID {
			*us = *dup
		}
	}
	return nil
}

// fail moves a session to ERROR with message, with optimistic concurrency.
func (r *UpdateSessionReconciler) fail(ctx context.Context, us *v1alpha1.UpdateSession, message string) error {
	now := r.Clock.Now()
	base := us.DeepCopy()
	us.Status = r.Policy.DesiredStatus(us, now)
	if err := r.Policy.Finish(us, v1alpha1.StateError, message, now); err != nil {
		return err
	}
	patch := client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})
	if err := r.Status().Patch(ctx, us, patch); err != nil {
		return err
	}
	r.Recorder.Eventf(us, nil, corev1.EventTypeWarning, ReasonSuperseded, "Fail", "%s", message)
	logf.FromContext(ctx).Info("Session failed: its library item has an older ACTIVE session", "session", us.Name)
	return nil
}

// deleteIfDue deletes a session whose deadline has passed. The delete carries UID and
// resourceVersion preconditions, so the API server deletes only the very version the deadline
// was computed from: the cached object may miss a keep-alive ("the TTL might be stale", as the
// Job TTL controller puts it), and then the delete conflicts. Only then is the live object read
// and the decision made again, which saves a read per expiry at scale.
func (r *UpdateSessionReconciler) deleteIfDue(ctx context.Context, us *v1alpha1.UpdateSession) (ctrl.Result, error) {
	for attempt := 1; ; attempt++ {
		now := r.Clock.Now()
		if wait := r.Policy.Remaining(us, now); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		err := r.delete(ctx, us, now)
		if !apierrors.IsConflict(err) || attempt == maxDeleteAttempts {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		logf.FromContext(ctx).V(1).Info("Session changed before its expiry; deciding again on the live object")
		live := &v1alpha1.UpdateSession{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(us), live); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
		us = live
	}
}

func (r *UpdateSessionReconciler) delete(ctx context.Context, us *v1alpha1.UpdateSession, now time.Time) error {
	uid, rv := us.UID, us.ResourceVersion
	precondition := client.Preconditions{UID: &uid, ResourceVersion: &rv}
	if err := r.Delete(ctx, us, precondition); err != nil {
		return err
	}
	late := now.Sub(r.Policy.Deadline(us)).Round(time.Millisecond)
	reason := "expired"
	if us.Status.State.Terminal() {
		reason = "retention"
	}
	metrics.Deletions.WithLabelValues(reason).Inc()
	metrics.ExpiryLateness.WithLabelValues(reason).Observe(late.Seconds())
	if us.Status.State.Terminal() {
		r.Recorder.Eventf(us, nil, corev1.EventTypeNormal, ReasonRetentionOver, "Delete",
			"In state %s for longer than the terminal retention; deleted %s after it ran out", us.Status.State, late)
	} else {
		r.Recorder.Eventf(us, nil, corev1.EventTypeNormal, ReasonExpired, "Delete",
			"Idle past its expiration time %s; deleted %s after it",
			r.Policy.Deadline(us).Format(time.RFC3339Nano), late)
	}
	logf.FromContext(ctx).Info("Session deleted", "state", us.Status.State, "late", late)
	return nil
}

// SetupWithManager registers the reconciler. Status-only writes (keep-alives) do not trigger a
// reconcile: the requeue already scheduled for the old deadline reads the latest lastActivity
// from the cache when it fires and simply waits again.
func (r *UpdateSessionReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.UpdateSession{}, builder.WithPredicates(sessionChanged)).
		Named("updatesession").
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}

// sessionChanged lets through what moves a deadline other than activity: a spec change
// (the timeout), a state change (which starts the retention), and a status not yet initialised.
var sessionChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok1 := e.ObjectOld.(*v1alpha1.UpdateSession)
		cur, ok2 := e.ObjectNew.(*v1alpha1.UpdateSession)
		if !ok1 || !ok2 {
			return true
		}
		return old.Generation != cur.Generation ||
			old.Status.State != cur.Status.State ||
			cur.Status.ID == ""
	},
}
