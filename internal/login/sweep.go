package login

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
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
		if n, err := w.Store.Sweep(ctx, time.Now()); err != nil {
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

// Sweep deletes the logins whose token expired before now and returns how many it deleted.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	var list corev1.SecretList
	if err := s.reader.List(ctx, &list, client.InNamespace(s.namespace), client.HasLabels{Label}); err != nil {
		return 0, err
	}
	deleted := 0
	for i := range list.Items {
		secret := &list.Items[i]
		exp, err := time.Parse(time.RFC3339, secret.Annotations[ExpiresAnnotation])
		if err != nil || now.Before(exp) || secret.Type != SecretType {
			continue
		}
		if err := client.IgnoreNotFound(s.client.Delete(ctx, secret, client.Preconditions{UID: &secret.UID})); err != nil {
			return deleted, err
		}
		deleted++
	}
	return deleted, nil
}
