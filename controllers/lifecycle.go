package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
)

// lifecycle is what the reconcilers of both kinds do alike: keep the status the operator
// maintains (session.Policy.Sync), and delete a session once its deadline has passed, an
// ACTIVE one idle past its expiration time, a terminal one when its retention is over.
type lifecycle[S v1alpha1.Session] struct {
	store     *store.Store[S]
	clock     clock.PassiveClock
	policy    session.Policy
	deletions *events.Deletions
}

// ignoreGone drops the error of a session deleted while it was being reconciled.
func ignoreGone(err error) error {
	if store.IsNotFound(err) {
		return nil
	}
	return err
}

// syncStatus writes the status the operator maintains, if it differs; extra, when not nil,
// changes what else the kind keeps in the same write, and reports whether it did. The write carries the resourceVersion,
// so a keep-alive that wrote in between is never overwritten: the status is then computed
// again from the live session.
func (l lifecycle[S]) syncStatus(ctx context.Context, s S, extra func(S) (bool, error)) error {
	written, err := l.store.Update(ctx, s, store.Status, func(s S) (bool, error) {
		var changed bool
		if extra != nil {
			var err error
			if changed, err = extra(s); err != nil {
				return false, err
			}
		}
		return l.policy.Sync(s, l.clock.Now()) || changed, nil
	})
	if err != nil {
		return fmt.Errorf("updating status: %w", err)
	}
	if written {
		logf.FromContext(ctx).V(1).Info("Status synced", "state", s.Lifecycle().State, "deadline", l.policy.Deadline(s))
	}
	return nil
}

// deleteIfDue deletes a session whose deadline has passed, and says whether it did. The delete
// carries UID and resourceVersion preconditions, so the API server deletes only the very
// version the deadline was computed from: the cached object may miss a keep-alive ("the TTL
// might be stale", as the Job TTL controller puts it), and then the delete conflicts. Only
// then is the live object read and the decision made again, which saves a read per expiry at
// scale.
func (l lifecycle[S]) deleteIfDue(ctx context.Context, s S) (ctrl.Result, bool, error) {
	var decided time.Time
	err := l.store.Delete(ctx, s, func(s S) error {
		decided = l.clock.Now()
		if l.policy.Remaining(s, decided) > 0 {
			return errNotDue
		}
		return nil
	})
	switch {
	case errors.Is(err, errNotDue):
		logf.FromContext(ctx).V(1).Info("Session changed before its expiry; waiting for its new deadline")
		return ctrl.Result{RequeueAfter: l.policy.Remaining(s, l.clock.Now())}, false, nil
	case err != nil:
		return ctrl.Result{}, false, ignoreGone(err)
	}
	l.recordDeletion(ctx, s, decided)
	return ctrl.Result{}, true, nil
}

// recordDeletion counts, records and logs the deletion of s, decided at now.
func (l lifecycle[S]) recordDeletion(ctx context.Context, s S, now time.Time) {
	late := now.Sub(l.policy.Deadline(s)).Round(time.Millisecond)
	state := s.Lifecycle().State
	reason := metrics.DeletedExpired
	if state.Terminal() {
		reason = metrics.DeletedRetention
	}
	metrics.Deletions.WithLabelValues(s.Noun(), reason).Inc()
	metrics.ExpiryLateness.WithLabelValues(s.Noun(), reason).Observe(late.Seconds())
	if state.Terminal() {
		l.deletions.Record(s, events.ReasonRetentionOver, late, fmt.Sprintf(
			"In state %s for longer than the terminal retention; deleted %s after it ran out", state, late))
	} else {
		l.deletions.Record(s, events.ReasonExpired, late, fmt.Sprintf("Idle past its expiration time %s; deleted %s after it",
			l.policy.Deadline(s).Format(time.RFC3339Nano), late))
	}
	logf.FromContext(ctx).Info("Session deleted", "kind", s.Noun(), "state", state, "late", late)
}

// lifecycleChanged reports what moves a deadline other than activity: a spec change (the
// timeout), a state change (which starts the retention), and a status not yet initialised.
// Status-only writes (keep-alives) do not pass: the requeue already scheduled for the old
// deadline reads the latest lastActivity from the cache when it fires and simply waits again.
func lifecycleChanged(old, cur v1alpha1.Session) bool {
	return old.GetGeneration() != cur.GetGeneration() ||
		old.Lifecycle().State != cur.Lifecycle().State ||
		cur.Lifecycle().ID == ""
}

// lifecyclePredicate lets through the updates lifecycleChanged reports, of sessions of any kind.
var lifecyclePredicate = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok1 := e.ObjectOld.(v1alpha1.Session)
		cur, ok2 := e.ObjectNew.(v1alpha1.Session)
		return !ok1 || !ok2 || lifecycleChanged(old, cur)
	},
}
