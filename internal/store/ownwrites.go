package store

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// ownWritesTTL bounds how long a write is remembered should the cache never move past its base
// (an informer that re-lists may skip versions). An overloaded API server can deliver watch
// events tens of seconds late; a write is remembered only while the cache lags behind it.
const ownWritesTTL = 2 * time.Minute

// maxOlder bounds the versions a remembered write is known to be newer than: a cache that lags
// more of our writes behind than this costs a conflict. A client writing five times a second
// against a watch 30 s late stays within it.
const maxOlder = 256

// ownWrites remembers the session each of this store's writes produced while the cache still
// shows the version the write was based on, so that the next call starts from what was just
// written: starting from a cache that lags behind would cost a conflict, a read and a second
// write. Every write carries the resourceVersion it was based on, so the version after that
// base is ours: while the cache holds the base, ours is newer; once it holds anything else, the
// cache has caught up (or moved on) and is used. A write based on our own previous write is
// newer than that one's bases too, so a cache that lags several of our writes behind (a client
// keeping its session alive faster than the watch delivers) still gives way to the last one.
// Comparing with the base, not with our own version, matters: the informer may deliver our
// write before it is recorded, and a version that differs from ours is then newer, not older.
// This never risks correctness: should the memory be stale, the write it starts conflicts and
// is retried on the live object.
type ownWrites[S v1alpha1.Session] struct {
	mu     sync.Mutex
	byUID  map[types.UID]ownWrite[S]
	pruned time.Time
}

type ownWrite[S v1alpha1.Session] struct {
	session S
	// older are the resourceVersions the write is known to be newer than: its base and, when
	// it was based on our previous write, that write's older versions (at most maxOlder).
	older []string
	at    time.Time
}

// newerThan reports whether the remembered write is newer than version rv.
func (w ownWrite[S]) newerThan(rv string) bool { return slices.Contains(w.older, rv) }

// record remembers the session a write based on version base produced, at now.
func (o *ownWrites[S]) record(written S, base string, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byUID == nil {
		o.byUID = map[types.UID]ownWrite[S]{}
	}
	older := []string{base}
	if prev, ok := o.byUID[written.GetUID()]; ok && prev.session.GetResourceVersion() == base {
		older = append(prev.older[max(0, len(prev.older)-maxOlder+1):], base)
	}
	o.byUID[written.GetUID()] = ownWrite[S]{session: copyOf(written), older: older, at: now}
	if now.Sub(o.pruned) > ownWritesTTL {
		for uid, w := range o.byUID {
			if now.Sub(w.at) > ownWritesTTL {
				delete(o.byUID, uid)
			}
		}
		o.pruned = now
	}
}

// freshest returns what this store last wrote of the session while the cache (or a live read)
// still shows a version that write is newer than, else the session it was given. The written
// session is shared: copy it to change it.
func (o *ownWrites[S]) freshest(seen S) S {
	o.mu.Lock()
	defer o.mu.Unlock()
	w, ok := o.byUID[seen.GetUID()]
	switch {
	case !ok:
		return seen
	case w.newerThan(seen.GetResourceVersion()):
		return w.session
	default:
		o.forgetPast(w, seen)
		return seen
	}
}

// observed forgets a remembered write once the informer's events show it, or anything it is not
// newer than. Unlike a read (see forgetPast), an event that shows exactly our write forgets it:
// the events reach the store after the informer's own cache, so no read through the cache can
// be older than an event, and the memory only held what they had not shown yet. Kept, a session
// that one replica keeps alive would stay in memory for as long as it is kept alive, a second
// copy of the cache's, with a version more in older at every write.
func (o *ownWrites[S]) observed(cached S) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if w, ok := o.byUID[cached.GetUID()]; ok && !w.newerThan(cached.GetResourceVersion()) {
		delete(o.byUID, cached.GetUID())
	}
}

// forgetPast forgets w once seen is neither older than it nor w itself. A read that shows
// exactly our write keeps it: the versions it is newer than carry over to our next write,
// based on it, so that a cache still behind both is not taken for the latest (a cache that
// lagged behind our status write would otherwise make a later call see the session as it was
// before a write that ended it).
func (o *ownWrites[S]) forgetPast(w ownWrite[S], seen S) {
	if seen.GetResourceVersion() != w.session.GetResourceVersion() {
		delete(o.byUID, seen.GetUID())
	}
}

// forget forgets a deleted session.
func (o *ownWrites[S]) forget(uid types.UID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.byUID, uid)
}
