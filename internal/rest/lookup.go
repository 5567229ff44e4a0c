package rest

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/clock"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// errLookupThrottled: an id the cache does not have could not be looked up on the API server
// now, because such lookups are over their limit; the caller should retry shortly.
var errLookupThrottled = errors.New("too many lookups of unknown session ids; retry shortly")

// Limits of the API-server lookups of ids the cache does not have. Any caller with a valid
// token can send random ids, and each would otherwise cost a cluster-wide LIST before
// authorization. Callers who may not change sessions at home never cause one (see mayLookUp);
// for the others recent misses are remembered briefly, concurrent lookups of one id share one
// LIST, and LISTs are rate-limited; past the rate a lookup waits up to cacheGrace for the cache
// instead, which is where a session made a moment ago shows up.
const (
	missTTL     = time.Second
	maxMisses   = 10000
	lookupQPS   = 100
	lookupBurst = 200
	cacheGrace  = time.Second
	cachePoll   = 20 * time.Millisecond
)

// lookups bounds the fallback from the cache to the API server.
type lookups struct {
	flight singleflight.Group
	rate   *rate.Limiter

	mu     sync.Mutex
	misses map[string]time.Time
}

func newLookups() *lookups {
	return &lookups{rate: rate.NewLimiter(lookupQPS, lookupBurst), misses: map[string]time.Time{}}
}

// missedRecently reports whether id was looked up and not found less than missTTL before now.
func (l *lookups) missedRecently(id string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.misses[id]
	return ok && now.Sub(at) < missTTL
}

// missed remembers that id was not found at now, keeping at most maxMisses ids.
func (l *lookups) missed(id string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.misses) >= maxMisses {
		for k, at := range l.misses {
			if now.Sub(at) >= missTTL {
				delete(l.misses, k)
			}
		}
		if len(l.misses) >= maxMisses {
			clear(l.misses)
		}
	}
	l.misses[id] = now
}

// finder finds the sessions of one kind by id: in the cache, else on the API server within
// the limits of its own lookups, so that probes of one kind do not spend the other's.
type finder[S v1alpha1.Session] struct {
	store   *store.Store[S]
	lookups *lookups
	clock   clock.PassiveClock
	// notFound is the error of an id that names no session of this kind.
	notFound func(id string) *vapi.Error
}

func newFinder[S v1alpha1.Session](st *store.Store[S], clk clock.PassiveClock, notFound func(string) *vapi.Error) *finder[S] {
	return &finder[S]{store: st, lookups: newLookups(), clock: clk, notFound: notFound}
}

// find returns the update session with the given id (see finder.find).
func (s *Server) find(ctx context.Context, id string, live func() bool) (*v1alpha1.UpdateSession, error) {
	return s.updateFinder.find(ctx, id, live)
}

// findDownload returns the download session with the given id (see finder.find).
func (s *Server) findDownload(ctx context.Context, id string, live func() bool) (*v1alpha1.DownloadSession, error) {
	return s.downloadFinder.find(ctx, id, live)
}

// find returns the session with the given id: from the cache, or, when the cache does not have
// it (yet: a session made a moment ago shows up there within seconds), from the API server if
// live says so (asked only then), within the limits of lookups, else from the cache once it
// caught up. Like store.Cached's, the session is shared: never change it (see call.own).
func (f *finder[S]) find(ctx context.Context, id string, live func() bool) (S, error) {
	var none S
	if f.store == nil || !store.ValidID(id) {
		return none, f.notFound(id)
	}
	if found, ok := f.store.Cached(id); ok {
		return found, nil
	}
	if !live() {
		found, err := f.awaitCache(ctx, id)
		if err != nil {
			return none, f.notFound(id)
		}
		return found, nil
	}
	return f.findLive(ctx, id)
}

// findLive looks id up on the API server: not again for a while once it was missing, once for
// all concurrent callers, and at a bounded rate. Past the rate it gives the cache a moment to
// catch up, and then gives up with errLookupThrottled.
func (f *finder[S]) findLive(ctx context.Context, id string) (S, error) {
	var none S
	if f.lookups.missedRecently(id, f.clock.Now()) {
		return none, f.notFound(id)
	}
	found, err, _ := f.lookups.flight.Do(id, func() (any, error) {
		if !f.lookups.rate.Allow() {
			return f.awaitCache(ctx, id)
		}
		found, err := f.store.Lookup(ctx, id)
		if store.IsNotFound(err) {
			f.lookups.missed(id, f.clock.Now())
			return nil, f.notFound(id)
		}
		return found, err
	})
	if err != nil {
		return none, err
	}
	return found.(S), nil
}

// awaitCache polls the cache for id for up to cacheGrace; errLookupThrottled if it never shows.
func (f *finder[S]) awaitCache(ctx context.Context, id string) (S, error) {
	var found S
	var ok bool
	err := wait.PollUntilContextTimeout(ctx, cachePoll, cacheGrace, false, func(context.Context) (bool, error) {
		found, ok = f.store.Cached(id)
		return ok, nil
	})
	if !ok {
		return found, errors.Join(errLookupThrottled, err)
	}
	return found, nil
}

// mayLookUp reports whether an id the cache does not have may cost caller an API-server
// lookup: only if it may run op on sessions of its own namespace, and within its budget of
// reads. Anyone else, such as a pod probing with random ids, is answered from the cache alone.
func (s *Server) mayLookUp(ctx context.Context, caller *auth.Caller, op *operation) bool {
	home, err := s.callerNamespace(caller, "")
	if err != nil {
		return false
	}
	allowed, _, err := s.Gate.AuthorizeResource(ctx, caller, op.verb, op.resource, home, "")
	// When access cannot be reviewed now, the lookup is still bounded by the lookup limits.
	return (err != nil || allowed) && s.reads.take(caller.GetName(), s.Clock.Now()) == nil
}
