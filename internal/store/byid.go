package store

import (
	"sync"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// byID is the hot path of Cached: the informer's sessions by status.id, kept from its events, so
// that finding a session for a keep-alive is one map lookup rather than a List through the
// cache (its type lookups, field selector and index), and the cache needs no index by id (one
// set per session, twice over: the largest part of its memory after the sessions themselves).
// It holds the informer's own objects: they are shared and never changed, here or by Cached's
// callers, who get them as they are. It lags the cache by the delivery of an event.
type byID[S v1alpha1.Session] struct {
	mu       sync.RWMutex
	sessions map[string]S
}

// set records us under its id, if that is its UID (an id is a UID; anything else is never found).
func (b *byID[S]) set(us S) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions == nil {
		b.sessions = map[string]S{}
	}
	if id := us.Lifecycle().ID; id != "" && id == string(us.GetUID()) {
		b.sessions[id] = us
	}
}

func (b *byID[S]) remove(us S) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, ok := b.sessions[string(us.GetUID())]; ok && cur.GetUID() == us.GetUID() {
		delete(b.sessions, string(us.GetUID()))
	}
}

// get returns the shared session with id, or nil.
func (b *byID[S]) get(id string) (S, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s, ok := b.sessions[id]
	return s, ok
}
