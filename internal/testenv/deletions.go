package testenv

import (
	"context"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// Deletions records the time the API server reported each session's deletion.
type Deletions struct {
	mu      sync.Mutex
	at      map[string]time.Time
	changed chan struct{}
}

// WatchDeletions starts recording the deletions of sessions in namespace until the test ends.
func (e *Env) WatchDeletions(t testing.TB, namespace string) *Deletions {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := e.Client.Watch(ctx, &v1alpha1.UpdateSessionList{}, client.InNamespace(namespace))
	if err != nil {
		t.Fatalf("watching sessions: %v", err)
	}
	d := &Deletions{at: map[string]time.Time{}, changed: make(chan struct{})}
	t.Cleanup(func() { cancel(); w.Stop() })
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Deleted {
				continue
			}
			now := time.Now()
			us := ev.Object.(*v1alpha1.UpdateSession)
			d.mu.Lock()
			d.at[us.Name] = now
			close(d.changed)
			d.changed = make(chan struct{})
			d.mu.Unlock()
		}
	}()
	return d
}

// At returns when the named session was deleted, if it was.
func (d *Deletions) At(name string) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.at[name]
	return at, ok
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
