package controllers

import (
	"context"

	k8sevents "k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/download"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
)

// DownloadSessionReconciler keeps each download session as UpdateSessionReconciler keeps an
// update session (the same lifecycle: status, exact deadline, expiry, retention), and pins a
// new session to the content version of its item it reads.
type DownloadSessionReconciler struct {
	Store     *store.Downloads
	Recorder  k8sevents.EventRecorder
	Deletions *events.Deletions
	Clock     clock.PassiveClock
	Policy    session.Policy
	// Content is where the item's content versions are; nil pins none.
	Content *content.Store
}

// +kubebuilder:rbac:groups=library.contentlib.dev,resources=downloadsessions,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=library.contentlib.dev,resources=downloadsessions/status,verbs=get;update

// Reconcile brings one session's status up to date (pinning a new one's content version), then
// either waits for its deadline or, when the deadline has passed, deletes it.
func (r *DownloadSessionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ds, err := r.Store.Get(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, ignoreGone(err)
	}
	if !ds.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	lc := lifecycle[*v1alpha1.DownloadSession]{store: r.Store, clock: r.Clock, policy: r.Policy, deletions: r.Deletions}
	if err := lc.syncStatus(ctx, ds, func(ds *v1alpha1.DownloadSession) (bool, error) {
		return download.Pin(ctx, r.Content, ds)
	}); err != nil {
		return ctrl.Result{}, ignoreGone(err)
	}
	if wait := r.Policy.Remaining(ds, r.Clock.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	result, _, err := lc.deleteIfDue(ctx, ds)
	return result, err
}

// SetupWithManager registers the reconciler; deletions, shared with the UpdateSession
// reconciler, records the events of deletions.
func (r *DownloadSessionReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.DownloadSession{}, builder.WithPredicates(lifecyclePredicate)).
		Named("downloadsession").
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		Complete(r)
}
