// Package controllers holds the reconcilers of UpdateSession and DownloadSession, which share
// one lifecycle (see lifecycle).
package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
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
	"github.com/contentlib/update-session-operator/internal/complete"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/index"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/transfer"
)

// Reasons of the events recorded on sessions (the events of deletions are package events').
const (
	// ReasonSuperseded: the session failed because an older ACTIVE session holds its library item.
	ReasonSuperseded = "Superseded"
	// ReasonFetchedAnew: a PULL file is fetched anew, its replica having stopped or died.
	ReasonFetchedAnew = "FetchedAnew"
	// ReasonFetchAbandoned: a PULL file whose fetch ended with its replica went ERROR, fetched
	// anew too often (or with no replica to fetch it).
	ReasonFetchAbandoned = "FetchAbandoned"
)

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
	Store    *store.Updates
	Recorder k8sevents.EventRecorder
	// Deletions records the events of deletions, folding them under a burst; SetupWithManager
	// makes it from Recorder when nil.
	Deletions *events.Deletions
	Clock     clock.PassiveClock
	Policy    session.Policy
	// Content keeps the bytes sessions stage: those of a session deleted before it completed,
	// or failed, are discarded. Nil: none are kept.
	Content *content.Store
	// Completer finishes a session whose completion the client requested while PULL transfers
	// ran, once they have all ended; nil leaves such sessions to expire.
	Completer *complete.Completer
	// TransferFresh is how long a running transfer's heartbeat stays fresh: a PULL whose
	// heartbeat is older died with its replica, and is fetched anew.
	TransferFresh time.Duration
	// Pulls fetches anew the PULL files whose fetch died with its replica, or was handed over by
	// a replica that stopped; nil records them ERROR.
	Pulls PullRestarter
}

// PullRestarter fetches anew a PULL file whose last fetch ended without an end recorded (see
// transfer.SettleDeadPulls); us becomes what its claim wrote. The REST server's Pulls is one.
type PullRestarter interface {
	Restart(ctx context.Context, us *v1alpha1.UpdateSession, name string) error
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
	if err := r.lifecycle().syncStatus(ctx, us, nil); err != nil {
		return ctrl.Result{}, ignoreGone(err)
	}
	if err := r.enforceOneActive(ctx, us); errors.Is(err, errStaleHolder) {
		return ctrl.Result{RequeueAfter: staleCacheRetry}, nil
	} else if err != nil {
		return ctrl.Result{}, ignoreGone(err)
	}
	recheck, err := r.settlePulls(ctx, us)
	if err != nil {
		return ctrl.Result{}, ignoreGone(err)
	}
	if wait := r.Policy.Remaining(us, r.Clock.Now()); wait > 0 {
		if recheck > 0 && recheck < wait {
			wait = recheck
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	result, deleted, err := r.lifecycle().deleteIfDue(ctx, us)
	if deleted {
		r.discard(ctx, us)
	}
	return result, err
}

// lifecycle is what this reconciler shares with the DownloadSession one.
func (r *UpdateSessionReconciler) lifecycle() lifecycle[*v1alpha1.UpdateSession] {
	return lifecycle[*v1alpha1.UpdateSession]{store: r.Store, clock: r.Clock, policy: r.Policy, deletions: r.Deletions}
}

// settlePulls ends what no replica will end: PULL fetches that died with their replica, or
// were handed over by one that stopped, are fetched anew on this one (or, past
// transfer.MaxFetchRestarts, go ERROR), and a session whose completion was requested while
// PULLs ran is, once they have all ended, completed (its files committed, DONE) or, when one
// failed, failed. It returns when to look again: when the heartbeat of a PULL still running
// goes stale, or one fetched anew (or not, this replica could not take it) would (0: never).
func (r *UpdateSessionReconciler) settlePulls(ctx context.Context, us *v1alpha1.UpdateSession) (time.Duration, error) {
	if r.Completer == nil || us.Status.State.Terminal() {
		return 0, nil
	}
	recheck, err := r.settleDeadPulls(ctx, us)
	if err != nil {
		return 0, err
	}
	if us.Status.CompletionRequested == nil || us.Status.State.Terminal() {
		return recheck, nil
	}
	ended, failed := transfer.PullsEnded(us)
	switch {
	case !ended:
		return recheck, nil
	case len(failed) > 0:
		_, err := r.Store.Update(ctx, us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
			if us.Status.State.Terminal() {
				return false, nil
			}
			return r.Policy.Finish(us, v1alpha1.StateError, transfer.PullsFailedMessage(failed), r.Clock.Now())
		})
		return 0, err
	}
	return 0, r.Completer.Commit(ctx, us)
}

// settleDeadPulls has the PULL files of us whose fetch ended with its replica fetched anew, or
// records them ERROR (see transfer.SettleDeadPulls), and returns when to look again.
func (r *UpdateSessionReconciler) settleDeadPulls(ctx context.Context, us *v1alpha1.UpdateSession) (time.Duration, error) {
	var recheck time.Duration
	var restart, abandoned []string
	written, err := r.Store.Update(ctx, us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		restart, abandoned, recheck = nil, nil, 0 // what an earlier attempt found is not this one's
		if us.Status.State.Terminal() {
			return false, nil
		}
		// A session past its deadline is deleted, not kept alive by a fetch anew.
		now := r.Clock.Now()
		restarts := r.Pulls != nil && r.Policy.Remaining(us, now) > 0
		restart, abandoned, recheck = transfer.SettleDeadPulls(us, now, r.TransferFresh, restarts)
		return len(abandoned) > 0, nil
	})
	if err != nil {
		return 0, fmt.Errorf("settling the PULL fetches that ended with their replica: %w", err)
	}
	if written {
		for _, name := range abandoned {
			note := fmt.Sprintf("PULL file %q went ERROR: the replica fetching it stopped or died, and it was fetched anew "+
				"%d times, as often as it may be.", name, transfer.MaxFetchRestarts)
			if f := session.File(us, name); f != nil && f.FetchRestarts < transfer.MaxFetchRestarts {
				note = fmt.Sprintf("PULL file %q went ERROR: the replica fetching it stopped or died, and no replica fetches "+
					"it anew (the session is past its deadline, or no replica serves REST).", name)
			}
			r.Recorder.Eventf(us, nil, corev1.EventTypeWarning, ReasonFetchAbandoned, "Fetch", "%s", note)
		}
	}
	for _, name := range restart {
		// Fetched anew, the file is looked at again when its new heartbeat would go stale; not
		// fetched (this replica could not take it now), by then too.
		if recheck == 0 || r.TransferFresh < recheck {
			recheck = r.TransferFresh
		}
		r.restartPull(ctx, us, name)
	}
	return recheck, nil
}

// restartPull has the PULL file name of us fetched anew, and records that it is; a replica
// that cannot take the fetch now leaves it for a later look.
func (r *UpdateSessionReconciler) restartPull(ctx context.Context, us *v1alpha1.UpdateSession, name string) {
	f := session.File(us, name)
	if f == nil {
		return
	}
	before := f.FetchRestarts
	if err := r.Pulls.Restart(ctx, us, name); err != nil {
		logf.FromContext(ctx).Info("A PULL file's fetch ended with its replica; this replica cannot fetch it "+
			"anew now, and tries again later", "file", name, "reason", err.Error())
		return
	}
	if f = session.File(us, name); f != nil && f.FetchRestarts > before {
		r.Recorder.Eventf(us, nil, corev1.EventTypeNormal, ReasonFetchedAnew, "Fetch",
			"PULL file %q is fetched anew from its first byte (%d of at most %d times): the replica fetching it stopped "+
				"or died.", name, f.FetchRestarts, transfer.MaxFetchRestarts)
	}
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
	holder, _, dups := session.Duplicates(store.Pointers(list.Items))
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
		r.Policy.Sync(us, now)
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
		For(&v1alpha1.UpdateSession{}, builder.WithPredicates(updateSessionChanged)).
		Named("updatesession").
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}

// updateSessionChanged lets through what lifecycleChanged does, and what settlePulls acts on
// (see transfersChanged).
var updateSessionChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok1 := e.ObjectOld.(*v1alpha1.UpdateSession)
		cur, ok2 := e.ObjectNew.(*v1alpha1.UpdateSession)
		return !ok1 || !ok2 || lifecycleChanged(old, cur) || transfersChanged(old, cur)
	},
}

// transfersChanged reports whether a file's transfer status changed (a transfer started or
// ended, or a stopping replica handed a fetch over) or the client asked to complete: what
// settlePulls acts on. Progress writes (bytes, heartbeats) do not pass: a running PULL is
// looked at again when its heartbeat would go stale.
func transfersChanged(old, cur *v1alpha1.UpdateSession) bool {
	if (old.Status.CompletionRequested == nil) != (cur.Status.CompletionRequested == nil) {
		return true
	}
	type transferState struct {
		status v1alpha1.TransferStatus
		held   bool // a heartbeat: a replica holds the transfer (none: not begun, ended, handed over)
	}
	status := func(us *v1alpha1.UpdateSession) map[string]transferState {
		m := make(map[string]transferState, len(us.Status.Files))
		for _, f := range us.Status.Files {
			m[f.Name] = transferState{f.Status, f.TransferHeartbeat != nil}
		}
		return m
	}
	return !maps.Equal(status(old), status(cur))
}
