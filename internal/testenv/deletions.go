package testenv

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// Deletions records the time the API server reported each session's deletion.
type Deletions struct {
	mu      sync.Mutex
	at      map[string]time.Time
	objects map[string]*v1alpha1.UpdateSession
	changed chan struct{}
}

// WatchDeletions starts recording the deletions of sessions in namespace until the test ends.
func (e *Env) WatchDeletions(t testing.TB, namespace string) *Deletions {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d := &Deletions{at: map[string]time.Time{}, objects: map[string]*v1alpha1.UpdateSession{}, changed: make(chan struct{})}
	if err := OnDeletion(ctx, e.CP.Config, namespace, d.record); err != nil {
		t.Fatal(err)
	}
	return d
}

// OnDeletion calls record with each session of namespace that the API server deletes, as it
// last was, and the time the deletion was seen, until ctx is done. It watches through an
// informer, which re-establishes its watch should the API server end it, and it returns once
// the informer has synced.
func OnDeletion(ctx context.Context, cfg *rest.Config, namespace string,
	record func(*v1alpha1.UpdateSession, time.Time)) error {
	c, err := cache.New(cfg, cache.Options{Scheme: Scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		return err
	}
	informer, err := c.GetInformer(ctx, &v1alpha1.UpdateSession{})
	if err != nil {
		return err
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		now := time.Now()
		if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		if us, ok := obj.(*v1alpha1.UpdateSession); ok {
			record(us, now)
		}
	}})
	if err != nil {
		return err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return errors.New("the deletion watch did not sync")
	}
	return nil
}

func (d *Deletions) record(us *v1alpha1.UpdateSession, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.at[us.Name] = at
	d.objects[us.Name] = us
	close(d.changed)
	d.changed = make(chan struct{})
}

// At returns when the named session was deleted, if it was.
func (d *Deletions) At(name string) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.at[name]
	return at, ok
}

// Object returns the named session as it was when deleted, if it was.
func (d *Deletions) Object(name string) *v1alpha1.UpdateSession {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.objects[name]
}

// Wait waits up to timeout for the named session's deletion and returns its time.
func (d *Deletions) Wait(t testing.TB, name string, timeout time.Duration) time.Time {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		d.mu.Lock()
		at, ok := d.at[name]
		changed := d.changed
		d.mu.Unlock()
		if ok {
			return at
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("session %s was not deleted within %s", name, timeout)
		}
	}
}
