// Package controllers holds the UpdateSession reconciler.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	k8sevents "k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/index"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
)

// ReasonSuperseded is the reason of the event recorded on a session failed because an older
// ACTIVE session holds its library item (the events of deletions are package events').
const ReasonSuperseded = "Superseded"

// staleCacheRetry is how soon a session is reconciled again when the cache was found behind
// the API server.
const staleCacheRetry = time.Second

var (
	// errStaleHolder means the cache shows an ACTIVE session holding the item that has ended
	// since.
	errStaleHolder = errors.New("the cached holder of the library item is no longer ACTIVE")
	// errNotDue means the live session has a later deadline than the cached one had.
	errNotDue = errors.New("the session is not due")
)

// UpdateSessionReconciler initialises each session's status, requeues it for exactly its
// deadline, and deletes it once the deadline has passed: an ACTIVE session when idle past its
// expiration time, a terminal one when its retention is over.
type UpdateSessionReconciler struct {
	// Reader lists sessions from the cache.
	client.Reader
	// Store reads, writes and deletes sessions: the write path the REST server uses too.
	Store    *store.Store
	Recorder k8sevents.EventRecorder
	// Deletions records the events of deletions, folding them under a burst; SetupWithManager
	// makes it from Recorder when nil.
	Deletions *events.Deletions
	Clock     clock.PassiveClock
	Policy    session.Policy
	// Content keeps the bytes sessions stage: those of a session deleted before it completed,
	// or failed, are discarded. Nil: none are kept.
	Content *content.Store
}

// +kubebuilder:rbac:groups=library.contentlib.dev,resources=updatesessions,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=library.contentlib.dev,resources=updatesessions/status,verbs=get;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one session's status up to date, then either waits for its deadline or,
// when the deadline has passed, deletes it.
func (r *UpdateSessionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	us, err := r.Store.Get(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, ignoreGone(err)
	}
	if !us.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if err := r.syncStatus(ctx, us); err != nil {
		return ctrl.Result{}, ignoreGone(err)
	}
	if err := r.enforceOneActive(ctx, us); errors.Is(err, errStaleHolder) {
		return ctrl.Result{RequeueAfter: staleCacheRetry}, nil
	} else if err != nil {
		return ctrl.Result{}, ignoreGone(err)
	}
	if wait := r.Policy.Remaining(us, r.Clock.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return r.deleteIfDue(ctx, us)
}

// ignoreGone drops the error of a session deleted while it was being reconciled.
func ignoreGone(err error) error {
	if store.IsNotFound(err) {
		return nil
	}
	return err
}

// syncStatus writes the status the operator maintains, if it differs. The write carries the
// resourceVersion, so a keep-alive that wrote in between is never overwritten: the status is
// then computed again from the live session.
func (r *UpdateSessionReconciler) syncStatus(ctx context.Context, us *v1alpha1.UpdateSession) error {
	written, err := r.Store.Update(ctx, us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		desired := r.Policy.DesiredStatus(us, r.Clock.Now())
		if equality.Semantic.DeepEqual(desired, us.Status) {
			return false, nil
		}
		us.Status = desired
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("updating status: %w", err)
	}
	if written {
		logf.FromContext(ctx).V(1).Info("Status synced", "state", us.Status.State, "deadline", r.Policy.Deadline(us))
	}
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
	live, err := r.Store.Live(ctx, holder)
	if store.IsNotFound(err) || (err == nil && live.Status.State.Terminal()) {
		return errStaleHolder
	} else if err != nil {
		return err
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

// fail moves a session to ERROR with message, unless it has ended meanwhile.
func (r *UpdateSessionReconciler) fail(ctx context.Context, us *v1alpha1.UpdateSession, message string) error {
	written, err := r.Store.Update(ctx, us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		if us.Status.State.Terminal() {
			return false, nil
		}
		now := r.Clock.Now()
		us.Status = r.Policy.DesiredStatus(us, now)
		return r.Policy.Finish(us, v1alpha1.StateError, message, now)
	})
	if err != nil || !written {
		return err
	}
	r.Recorder.Eventf(us, nil, corev1.EventTypeWarning, ReasonSuperseded, "Fail", "%s", message)
	r.discard(ctx, us)
	logf.FromContext(ctx).Info("Session failed: its library item has an older ACTIVE session", "session", us.Name)
	return nil
}

// deleteIfDue deletes a session whose deadline has passed. The delete carries UID and
// resourceVersion preconditions, so the API server deletes only the very version the deadline
// was computed from: the cached object may miss a keep-alive ("the TTL might be stale", as the
// Job TTL controller puts it), and then the delete conflicts. Only then is the live object read
// and the decision made again, which saves a read per expiry at scale.
func (r *UpdateSessionReconciler) deleteIfDue(ctx context.Context, us *v1alpha1.UpdateSession) (ctrl.Result, error) {
	var decided time.Time
	err := r.Store.Delete(ctx, us, func(us *v1alpha1.UpdateSession) error {
		decided = r.Clock.Now()
		if r.Policy.Remaining(us, decided) > 0 {
			return errNotDue
		}
		return nil
	})
	switch {
	case errors.Is(err, errNotDue):
		logf.FromContext(ctx).V(1).Info("Session changed before its expiry; waiting for its new deadline")
		return ctrl.Result{RequeueAfter: r.Policy.Remaining(us, r.Clock.Now())}, nil
	case err != nil:
		return ctrl.Result{}, ignoreGone(err)
	}
	r.recordDeletion(ctx, us, decided)
	r.discard(ctx, us)
	return ctrl.Result{}, nil
}

// discard deletes the bytes us staged unless it completed (a completed session's files are
// its item's content). Failing that, the collector finds them later: a session is never kept
// past its deadline for its bytes' sake.
func (r *UpdateSessionReconciler) discard(ctx context.Context, us *v1alpha1.UpdateSession) {
	if r.Content == nil || us.Status.State == v1alpha1.StateDone {
		return
	}
	if err := r.Content.DiscardSession(ctx, us.Namespace, us.Spec.LibraryItemID, us.UID); err != nil {
		logf.FromContext(ctx).Error(err, "Discarding the bytes of a session; the content collector will", "state", us.Status.State)
	}
}

// recordDeletion counts, records and logs the deletion of us, decided at now.
func (r *UpdateSessionReconciler) recordDeletion(ctx context.Context, us *v1alpha1.UpdateSession, now time.Time) {
	late := now.Sub(r.Policy.Deadline(us)).Round(time.Millisecond)
	reason := metrics.DeletedExpired
	if us.Status.State.Terminal() {
		reason = metrics.DeletedRetention
	}
	metrics.Deletions.WithLabelValues(reason).Inc()
	metrics.ExpiryLateness.WithLabelValues(reason).Observe(late.Seconds())
	if us.Status.State.Terminal() {
		r.Deletions.Record(us, events.ReasonRetentionOver, late, fmt.Sprintf(
			"In state %s for longer than the terminal retention; deleted %s after it ran out", us.Status.State, late))
	} else {
		r.Deletions.Record(us, events.ReasonExpired, late, fmt.Sprintf("Idle past its expiration time %s; deleted %s after it",
			r.Policy.Deadline(us).Format(time.RFC3339Nano), late))
	}
	logf.FromContext(ctx).Info("Session deleted", "state", us.Status.State, "late", late)
}

// SetupWithManager registers the reconciler. Status-only writes (keep-alives) do not trigger a
// reconcile: the requeue already scheduled for the old deadline reads the latest lastActivity
// from the cache when it fires and simply waits again.
func (r *UpdateSessionReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	if r.Deletions == nil {
		r.Deletions = events.NewDeletions(r.Recorder)
		if err := mgr.Add(r.Deletions); err != nil {
			return err
		}
	}
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
