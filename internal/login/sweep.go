package login

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SweepInterval is how often the leader deletes the logins of expired tokens.
const SweepInterval = 10 * time.Minute

// Sweeper deletes the Secrets of logins whose token has expired, so that logins do not pile
// up. It runs on the leader only. A login of a token without an expiry is deleted by whichever
// replica finds the token refused (see Store.Authenticate).
type Sweeper struct {
	Store *Store
	Log   logr.Logger
}

// NeedLeaderElection is true: one replica sweeps.
func (w *Sweeper) NeedLeaderElection() bool { return true }

// Start sweeps at once, then every SweepInterval, until ctx is done.
func (w *Sweeper) Start(ctx context.Context) error {
	ticker := time.NewTicker(SweepInterval)
	defer ticker.Stop()
	for {
		if n, err := w.Store.Sweep(ctx, w.Store.clock.Now()); err != nil {
			w.Log.Error(err, "Sweeping expired logins")
		} else if n > 0 {
			w.Log.V(1).Info("Deleted the logins of expired tokens", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// sweepPage is how many logins one list of the sweeper returns.
const sweepPage = 500

// Sweep deletes the logins whose token expired before now and returns how many it deleted. It
// lists the logins' metadata only (their tokens are never needed) a page at a time, so that no
// call asks the API server for every login at once.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	opts := []client.ListOption{client.InNamespace(s.namespace), client.HasLabels{Label},
		client.MatchingFields{"type": string(SecretType)}, client.Limit(sweepPage)}
	deleted := 0
	for page := ""; ; {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
		if err := s.reader.List(ctx, list, append(opts, client.Continue(page))...); err != nil {
			return deleted, err
		}
		for i := range list.Items {
			meta := &list.Items[i]
			if !expired(meta, now) {
				continue
			}
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: meta.Namespace, Name: meta.Name}}
			if err := client.IgnoreNotFound(s.client.Delete(ctx, secret, client.Preconditions{UID: &meta.UID})); err != nil {
				return deleted, err
			}
			deleted++
		}
		if page = list.Continue; page == "" {
			return deleted, nil
		}
	}
}

// expired reports whether the token of a login expired before now. A login without a readable
// expiry has not.
func expired(meta *metav1.PartialObjectMetadata, now time.Time) bool {
	exp, err := time.Parse(time.RFC3339, meta.Annotations[ExpiresAnnotation])
	return err == nil && !now.Before(exp)
}
