package testenv

import (
	"context"
	"sync"
	"testing"
	"time"

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
// It watches through an informer, which re-establishes its watch should the API server end it.
func (e *Env) WatchDeletions(t testing.TB, namespace string) *Deletions {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := cache.New(e.CP.Config, cache.Options{Scheme: Scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		t.Fatal(err)
	}
	informer, err := c.GetInformer(ctx, &v1alpha1.UpdateSession{})
	if err != nil {
		t.Fatal(err)
	}
	d := &Deletions{at: map[string]time.Time{}, objects: map[string]*v1alpha1.UpdateSession{}, changed: make(chan struct{})}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{DeleteFunc: d.record})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("deletion watch did not sync")
	}
	return d
}

func (d *Deletions) record(obj any) {
	now := time.Now()
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	us, ok := obj.(*v1alpha1.UpdateSession)
	if !ok {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.at[us.Name] = now
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
