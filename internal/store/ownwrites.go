package store

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// ownWritesTTL bounds how long a write is remembered should the cache never show it (an
// informer that re-lists skips versions).
const ownWritesTTL = 30 * time.Second

// ownWrites remembers the session each of this server's writes produced until the cache shows
// that very version, so that a client's next call starts from what it just wrote: starting from
// a cache that lags behind would cost a conflict, a read and a second write. The informer
// delivers every session's versions in order, so until it delivers ours, what the cache holds
// is older than our write. This never risks correctness: every write carries the
// resourceVersion it was based on, and if another writer came in between, the API server
// refuses it and the write is retried on the live object.
type ownWrites struct {
	mu     sync.Mutex
	byUID  map[types.UID]ownWrite
	pruned time.Time
}

type ownWrite struct {
	session *v1alpha1.UpdateSession
	at      time.Time
}

// record remembers the session a write produced at now.
func (o *ownWrites) record(written *v1alpha1.UpdateSession, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byUID == nil {
		o.byUID = map[types.UID]ownWrite{}
	}
	o.byUID[written.UID] = ownWrite{session: written.DeepCopy(), at: now}
	if now.Sub(o.pruned) > ownWritesTTL {
		for uid, w := range o.byUID {
			if now.Sub(w.at) > ownWritesTTL {
				delete(o.byUID, uid)
			}
		}
		o.pruned = now
	}
}

// freshest returns what this server last wrote of the session while the cache has not shown
// it yet, else the cached session.
func (o *ownWrites) freshest(cached *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	o.mu.Lock()
	defer o.mu.Unlock()
	w, ok := o.byUID[cached.UID]
	switch {
	case !ok:
		return cached
	case cached.ResourceVersion == w.session.ResourceVersion:
		delete(o.byUID, cached.UID)
		return cached
	default:
		return w.session.DeepCopy()
	}
}

// forget forgets a deleted session.
func (o *ownWrites) forget(uid types.UID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.byUID, uid)
}

// observed forgets a remembered write once the cache shows it.
func (o *ownWrites) observed(cached *v1alpha1.UpdateSession) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w, ok := o.byUID[cached.UID]; ok && w.session.ResourceVersion == cached.ResourceVersion {
		delete(o.byUID, cached.UID)
	}
}
