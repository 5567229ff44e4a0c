package rest

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// ownWritesTTL bounds how long a write is remembered while the cache has not caught up.
const ownWritesTTL = 30 * time.Second

// ownWrites remembers the session each of this server's writes produced until the cache has
// caught up with it, so that a client's next call starts from what it just wrote: starting
// from a cache that has not seen that write yet would cost a conflict, a read and a second
// write. It never risks correctness: every write still carries the resourceVersion it was based
// on, so if another writer came in between, the API server refuses it as usual.
type ownWrites struct {
	mu     sync.Mutex
	byUID  map[types.UID]ownWrite
	pruned time.Time
}

type ownWrite struct {
	// replaced holds the resourceVersions this server's writes replaced, one after another,
	// most recent last; the cache may lag behind several of them.
	replaced []string
	session  *v1alpha1.UpdateSession
	at       time.Time
}

// maxReplaced bounds how many writes behind the cache may be for a write to be found.
const maxReplaced = 16

// record remembers that a write turned the session at before into after.
func (o *ownWrites) record(before, after *v1alpha1.UpdateSession) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if o.byUID == nil {
		o.byUID = map[types.UID]ownWrite{}
	}
	w := o.byUID[after.UID]
	if w.session == nil || w.session.ResourceVersion != before.ResourceVersion {
		w.replaced = nil // not built on our last write: start a new chain
	}
	w.replaced = append(w.replaced, before.ResourceVersion)
	if len(w.replaced) > maxReplaced {
		w.replaced = w.replaced[1:]
	}
	w.session, w.at = after.DeepCopy(), now
	o.byUID[after.UID] = w
	if now.Sub(o.pruned) > ownWritesTTL {
		for uid, w := range o.byUID {
			if now.Sub(w.at) > ownWritesTTL {
				delete(o.byUID, uid)
			}
		}
		o.pruned = now
	}
}

// freshest returns what this server last wrote of the session if the cache still holds a
// version one of its writes replaced, else the cached session.
func (o *ownWrites) freshest(cached *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	o.mu.Lock()
	defer o.mu.Unlock()
	w, ok := o.byUID[cached.UID]
	switch {
	case !ok:
		return cached
	case slices.Contains(w.replaced, cached.ResourceVersion):
		return w.session.DeepCopy()
	default: // the cache caught up, or someone else wrote since
		delete(o.byUID, cached.UID)
		return cached
	}
}
