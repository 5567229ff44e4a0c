package store

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// ErrLookupThrottled: an id the cache does not have could not be looked up on the API server
// now, because such lookups are over their limit; the caller should retry shortly.
var ErrLookupThrottled = errors.New("too many lookups of unknown session ids; retry shortly")

// Limits of the API-server lookups of ids the cache does not have. Any caller with a valid
// token can send random ids, and each would otherwise cost a cluster-wide LIST before
// authorization. Callers who may not change sessions at home never cause one (see Find's live);
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
