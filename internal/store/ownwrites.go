package store

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// ownWritesTTL bounds how long a write is remembered should the cache never move past its base
// (an informer that re-lists may skip versions).
const ownWritesTTL = 30 * time.Second

// ownWrites remembers the session each of this store's writes produced while the cache still
// shows the version the write was based on, so that the next call starts from what was just
// written: starting from a cache that lags behind would cost a conflict, a read and a second
// write. Every write carries the resourceVersion it was based on, so the version after that
// base is ours: while the cache holds the base, ours is newer; once it holds anything else, the
// cache has caught up (or moved on) and is used. Comparing with the base, not with our own
// version, matters: the informer may deliver our write before it is recorded, and a version
// that differs from ours is then newer, not older. This never risks correctness: should the
// memory be stale, the write it starts conflicts and is retried on the live object.
type ownWrites struct {
	mu     sync.Mutex
	byUID  map[types.UID]ownWrite
	pruned time.Time
}

type ownWrite struct {
	session *v1alpha1.UpdateSession
	// base is the resourceVersion the write was based on.
	base string
	at   time.Time
}

// record remembers the session a write based on version base produced, at now.
func (o *ownWrites) record(written *v1alpha1.UpdateSession, base string, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byUID == nil {
		o.byUID = map[types.UID]ownWrite{}
	}
	o.byUID[written.UID] = ownWrite{session: written.DeepCopy(), base: base, at: now}
	if now.Sub(o.pruned) > ownWritesTTL {
		for uid, w := range o.byUID {
			if now.Sub(w.at) > ownWritesTTL {
				delete(o.byUID, uid)
			}
		}
		o.pruned = now
	}
}

// freshest returns what this store last wrote of the session while the cache still shows the
// version that write was based on, else the cached session.
func (o *ownWrites) freshest(cached *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	o.mu.Lock()
	defer o.mu.Unlock()
	w, ok := o.byUID[cached.UID]
	switch {
	case !ok:
		return cached
	case cached.ResourceVersion == w.base:
		return w.session.DeepCopy()
	default:
		delete(o.byUID, cached.UID)
		return cached
	}
}

// observed forgets a remembered write once the cache has moved past its base.
func (o *ownWrites) observed(cached *v1alpha1.UpdateSession) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w, ok := o.byUID[cached.UID]; ok && w.base != cached.ResourceVersion {
		delete(o.byUID, cached.UID)
	}
}

// forget forgets a deleted session.
func (o *ownWrites) forget(uid types.UID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.byUID, uid)
}
