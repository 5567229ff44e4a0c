package auth

import (
	"crypto/sha256"
	"maps"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sync/singleflight"
	"k8s.io/apiserver/pkg/authentication/user"
)

// Bounds of the known callers' memory.
const (
	// maxKnownTokens bounds the tokens remembered; past it, the expired ones are dropped, and
	// should that not be enough, all (each caller's next call is reviewed again).
	maxKnownTokens = 1 << 16
	// maxDecisions bounds the decisions remembered for one token in the same way.
	maxDecisions = 1 << 10
)

// Caller is an authenticated REST caller: the user a TokenReview gave for its token, and the
// access decisions made for that token, so that a known client's call costs two map lookups
// and not a JWT parse, a keyed hash and the serialising of an access review.
type Caller struct {
	user.Info
	// until is when the token must be reviewed again: TokenCacheTTL after its review, never
	// past its own expiry.
	until time.Time

	mu        sync.Mutex
	decisions map[decisionKey]decision
	// reviews makes concurrent reviews of one decision a single review.
	reviews singleflight.Group
}

// Valid reports whether the caller's review still stands at now.
func (c *Caller) Valid(now time.Time) bool { return now.Before(c.until) }

// decisionKey is a question about update sessions, or with resource set about another resource
// of the API group (namespace, and name when about one), or, with path set, about a
// non-resource URL such as /metrics.
type decisionKey struct{ verb, resource, namespace, name, path string }

type decision struct {
	allowed bool
	reason  string
	until   time.Time
}

func (c *Caller) decision(k decisionKey, now time.Time) (decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.decisions[k]
	return d, ok && now.Before(d.until)
}

// wasAllowed reports whether c was allowed k, the decision standing or not.
func (c *Caller) wasAllowed(k decisionKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.decisions[k]
	return ok && d.allowed
}

// decisionsCopy returns a copy of c's decisions.
func (c *Caller) decisionsCopy() map[decisionKey]decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.decisions)
}

func (c *Caller) remember(k decisionKey, d decision, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.decisions) >= maxDecisions {
		dropExpired(c.decisions, now, func(d decision) time.Time { return d.until })
	}
	if len(c.decisions) >= maxDecisions {
		clear(c.decisions)
	}
	c.decisions[k] = d
}

// knownTokens are the callers whose tokens the API server accepted, by the SHA-256 of the
// token (the tokens themselves are not kept).
type knownTokens struct {
	// ttl is how long a review stands (Lifetimes.Token); expired callers are dropped that often.
	ttl    time.Duration
	mu     sync.RWMutex
	byHash map[[sha256.Size]byte]*Caller
	pruned time.Time
}

// tokenHash hashes the token's bytes in place: []byte(token) would copy the token (a kilobyte
// for a service-account token) on every call, since the hash's Write lets it escape. sha256
// neither keeps nor changes its input.
func tokenHash(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// get returns the caller of a token hash while its review stands.
func (k *knownTokens) get(h [sha256.Size]byte, now time.Time) *Caller {
	k.mu.RLock()
	c := k.byHash[h]
	k.mu.RUnlock()
	if c == nil || !now.Before(c.until) {
		return nil
	}
	return c
}

// add remembers the caller of a token hash until until, dropping the expired ones every ttl.
// While a caller of the hash added meanwhile stands, it returns that one instead: the calls in
// flight when a busy client's token is reviewed again all wait on the same review, and they
// must share one caller, with its decisions and its access reviews, or each would send a
// SubjectAccessReview of its own. A caller whose review lapsed hands its decisions on to the
// new one, so that what it was allowed is refreshed, not asked as a first question.
func (k *knownTokens) add(h [sha256.Size]byte, u user.Info, until, now time.Time) *Caller {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := &Caller{Info: u, until: until, decisions: map[decisionKey]decision{}}
	if old := k.byHash[h]; old != nil {
		if now.Before(old.until) {
			return old
		}
		if old.GetName() == u.GetName() {
			c.decisions = old.decisionsCopy()
		}
	}
	if k.byHash == nil {
		k.byHash = map[[sha256.Size]byte]*Caller{}
	}
	if len(k.byHash) >= maxKnownTokens || now.Sub(k.pruned) > k.ttl {
		dropExpired(k.byHash, now, func(c *Caller) time.Time { return c.until })
		k.pruned = now
	}
	if len(k.byHash) >= maxKnownTokens {
		clear(k.byHash)
	}
	k.byHash[h] = c
	return c
}

// dropExpired deletes the entries of m that stand only until a time before or at now.
func dropExpired[K comparable, V any](m map[K]V, now time.Time, until func(V) time.Time) {
	for k, v := range m {
		if !now.Before(until(v)) {
			delete(m, k)
		}
	}
}
