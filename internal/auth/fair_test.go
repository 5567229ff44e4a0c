package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// taken counts the calls of key that Take admits out of n, releasing each at once.
func taken(f *FairLimiter, key string, n int) int {
	admitted := 0
	for range n {
		release, err := f.Take(context.Background(), key)
		if err == nil {
			admitted++
			release()
		}
	}
	return admitted
}

func TestFairLimiterShares(t *testing.T) {
	share := FairShare{QPS: 20, Burst: 40, Concurrency: 8}
	capped := FairShare{QPS: 50, Burst: 100, PerKeyQPS: 2, PerKeyBurst: 10, Concurrency: 8}
	for _, tc := range []struct {
		name  string
		share FairShare
		// run floods with "flooder", then returns what the test checks.
		run  func(f *FairLimiter, clock *fakeClock) (got, want int)
		what string
	}{{
		name: "a flooder alone takes the burst, then the rate", share: share,
		what: "calls of a lone flooder admitted over 1 s",
		run: func(f *FairLimiter, clock *fakeClock) (int, int) {
			n := taken(f, "flooder", 1000)
			clock.t = clock.t.Add(time.Second)
			return n + taken(f, "flooder", 1000), 40 + 20
		},
	}, {
		name: "a new source gets its burst in the middle of a flood", share: share,
		what: "calls of a newcomer admitted at once",
		run: func(f *FairLimiter, clock *fakeClock) (int, int) {
			taken(f, "flooder", 1000)
			return taken(f, "newcomer", 1000), 40 / 2
		},
	}, {
		name: "two active sources share the rate", share: share,
		what: "calls of the flooder admitted in the 10 s beside another source",
		run: func(f *FairLimiter, clock *fakeClock) (int, int) {
			taken(f, "flooder", 1000)
			taken(f, "other", 1)
			n := 0
			for range 10 {
				clock.t = clock.t.Add(time.Second)
				taken(f, "other", 1)
				n += taken(f, "flooder", 1000)
			}
			return n, 10 * 20 / 2
		},
	}, {
		name: "a per-key cap holds whatever the share", share: capped,
		what: "first questions of one caller over 10 s",
		run: func(f *FairLimiter, clock *fakeClock) (int, int) {
			n := taken(f, "attacker", 1000)
			for range 10 {
				clock.t = clock.t.Add(time.Second)
				n += taken(f, "attacker", 1000)
			}
			return n, 10 + 10*2
		},
	}, {
		name: "a per-key burst holds however many keys are active", share: capped,
		what: "first questions of the 60th new caller at once",
		run: func(f *FairLimiter, clock *fakeClock) (int, int) {
			for i := range 59 {
				taken(f, fmt.Sprint("caller-", i), 3)
			}
			return taken(f, "caller-59", 1000), 10
		},
	}, {
		name: "an idle key is forgotten after the window", share: share,
		what: "calls of the flooder admitted in the second the other source's window ended",
		run: func(f *FairLimiter, clock *fakeClock) (int, int) {
			taken(f, "other", 1)
			n := 0
			for range fairWindow / time.Second {
				clock.t = clock.t.Add(time.Second)
				n = taken(f, "flooder", 1000) // half the rate, until "other" is forgotten
			}
			return n, 20
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_000_000, 0)}
			f := NewFairLimiter(tc.share, clock.now)
			if got, want := tc.run(f, clock); got != want {
				t.Errorf("%s: %d, want %d", tc.what, got, want)
			}
		})
	}
}

// TestFairLimiterBoundsItsKeys: past maxFairKeys, new keys share one, so that memory stays
// bounded however many sources call.
func TestFairLimiterBoundsItsKeys(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	f := NewFairLimiter(FairShare{QPS: 1e6, Burst: 1e6, Concurrency: 1}, clock.now)
	for i := range 2 * maxFairKeys {
		taken(f, fmt.Sprint(i), 1)
	}
	if n := len(f.keys); n > maxFairKeys+1 {
		t.Fatalf("%d keys tracked, want at most %d", n, maxFairKeys+1)
	}
}

// TestFairLimiterWaitsForAPlaceInFlight: past Concurrency, a call waits for a place, and is
// refused once its context is done.
func TestFairLimiterWaitsForAPlaceInFlight(t *testing.T) {
	f := NewFairLimiter(FairShare{QPS: 100, Burst: 100, Concurrency: 1}, nil)
	release, err := f.Take(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.Take(ctx, "b"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("Take with every place taken = %v, want ErrThrottled when its context ends", err)
	}
	go func() { time.Sleep(20 * time.Millisecond); release() }()
	release, err = f.Take(context.Background(), "b")
	if err != nil {
		t.Fatalf("Take once a place is given back = %v", err)
	}
	release()
}
