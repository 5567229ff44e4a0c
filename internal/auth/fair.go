package auth

import (
	"context"
	"sync"
	"time"
)

// Bounds of a FairLimiter's memory and of how long it remembers a key.
const (
	// fairWindow is how long a key counts as active after its last call.
	fairWindow = 10 * time.Second
	// maxFairKeys bounds the keys a FairLimiter tracks; past it, new keys share one overflow
	// key, so that many sources at once are limited together rather than remembered one by one.
	maxFairKeys = 4096
)

// overflowKey is the key of the calls of keys past maxFairKeys.
const overflowKey = "\x00overflow"

// FairShare configures a FairLimiter.
type FairShare struct {
	// QPS and Burst: the rate shared by all keys. Each active key may use its share of it, the
	// rate divided by the number of active keys, or PerKeyQPS when that is lower.
	QPS   float64
	Burst int
	// PerKeyQPS, when positive, caps one key's rate whatever its share; PerKeyBurst, when
	// positive, is each key's burst however many keys are active, so that a new key always
	// has room for its first few calls.
	PerKeyQPS   float64
	PerKeyBurst int
	// Concurrency: calls in flight at once, all keys together. A call waits for a place (its
	// context bounds the wait): the rate shares, not this, are what refuse a greedy key, and
	// they bound how many places its calls can hold.
	Concurrency int
}

// FairLimiter bounds calls made on behalf of many keys (sources, callers) so that no key takes
// more than its share: one key flooding it is refused at once past its share, while every
// other key still gets its own. It never queues past a key's share, so a flood makes nobody
// else wait for more than the calls in flight.
type FairLimiter struct {
	share FairShare
	now   func() time.Time
	slots chan struct{}

	mu     sync.Mutex
	keys   map[string]*fairKey
	pruned time.Time
}

type fairKey struct {
	tokens   float64
	last     time.Time
	inFlight int
}

// NewFairLimiter returns a FairLimiter with share s, on the clock now (nil: time.Now).
func NewFairLimiter(s FairShare, now func() time.Time) *FairLimiter {
	if now == nil {
		now = time.Now
	}
	return &FairLimiter{share: s, now: now, slots: make(chan struct{}, max(s.Concurrency, 1)), keys: map[string]*fairKey{}}
}

// Take takes a place for one call of key, to be given back with release. It refuses with
// ErrThrottled at once when key is past its share, and waits for one of the places in flight
// at most until ctx is done.
func (f *FairLimiter) Take(ctx context.Context, key string) (release func(), err error) {
	k, ok := f.admit(key)
	if !ok {
		return nil, ErrThrottled
	}
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		f.done(k)
		return nil, ErrThrottled
	}
	return func() { <-f.slots; f.done(k) }, nil
}

// admit charges key one call of its share, and counts it in flight.
func (f *FairLimiter) admit(key string) (*fairKey, bool) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.key(key, now)
	rate, burst := f.shareOf(len(f.keys))
	k.tokens = min(burst, k.tokens+now.Sub(k.last).Seconds()*rate)
	k.last = now
	if k.tokens < 1 {
		return k, false
	}
	k.tokens--
	k.inFlight++
	return k, true
}

func (f *FairLimiter) done(k *fairKey) {
	f.mu.Lock()
	k.inFlight--
	f.mu.Unlock()
}

// key returns the state of key, made with a full bucket when new. Every fairWindow it forgets
// the keys idle for that long.
func (f *FairLimiter) key(key string, now time.Time) *fairKey {
	if now.Sub(f.pruned) >= fairWindow {
		for name, k := range f.keys {
			if k.inFlight == 0 && now.Sub(k.last) >= fairWindow {
				delete(f.keys, name)
			}
		}
		f.pruned = now
	}
	k := f.keys[key]
	if k == nil && len(f.keys) >= maxFairKeys {
		key = overflowKey
		k = f.keys[key]
	}
	if k == nil {
		_, burst := f.shareOf(len(f.keys) + 1)
		k = &fairKey{tokens: burst, last: now}
		f.keys[key] = k
	}
	return k
}

// shareOf is one key's rate and burst when active keys share the limiter: the rate divided
// among them (capped at PerKeyQPS), and PerKeyBurst, or else the burst divided among them.
func (f *FairLimiter) shareOf(active int) (rate, burst float64) {
	n := float64(max(active, 1))
	rate, burst = f.share.QPS/n, max(float64(f.share.Burst)/n, 1)
	if f.share.PerKeyQPS > 0 {
		rate = min(rate, f.share.PerKeyQPS)
	}
	if f.share.PerKeyBurst > 0 {
		burst = float64(f.share.PerKeyBurst)
	}
	return rate, burst
}
