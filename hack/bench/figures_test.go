package main

import (
	"math"
	"testing"
	"time"
)

// near is whether got is want but for float rounding; NaN is near NaN.
func near(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return got == want || math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// burstOf is n sessions coming due evenly over due from t0, the last of them deleted at
// t0+took: deleted at n/took a second, due at n/due.
func burstOf(n int, due, took time.Duration) expiryResult {
	ds := make([]deletion, n)
	for i := range ds {
		ds[i] = deletion{expired: t0.Add(due * time.Duration(i) / time.Duration(n-1)), deleted: t0.Add(took)}
	}
	return expiryResult{n: n, deletions: ds}
}

// rawDeletes is a thousand sessions deleted at rate a second.
func rawDeletes(rate float64) rawDeleteResult {
	return rawDeleteResult{n: 1000, took: time.Duration(1000 / rate * float64(time.Second))}
}

func TestExpiryFigures(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		burst                   expiryResult
		before, after           rawDeleteResult
		rate, rawDelete, arrive float64
		ratio                   float64
		met                     bool
	}{
		{"a burst deleting at the raw-DELETE rate, due faster, meets at 1.00x",
			burstOf(1000, 1*time.Second, 2*time.Second), rawDeletes(500), rawDeletes(500),
			500, 500, 1000, 1, true},
		{"the anchor is the mean of the raw DELETEs before and after the burst",
			burstOf(1000, 1*time.Second, 2*time.Second), rawDeletes(400), rawDeletes(600),
			500, 500, 1000, 1, true},
		{"a burst deleting as fast as its sessions come due meets, however fast raw DELETEs are",
			burstOf(1001, 10*time.Second, 10*time.Second), rawDeletes(500), rawDeletes(500),
			100.1, 500, 100.1, 1, true},
		{"exactly 0.9x the anchor meets",
			burstOf(900, 100*time.Millisecond, 2*time.Second), rawDeletes(500), rawDeletes(500),
			450, 500, 9000, 0.9, true},
		{"under 0.9x the anchor fails",
			burstOf(899, 100*time.Millisecond, 2*time.Second), rawDeletes(500), rawDeletes(500),
			449.5, 500, 8990, 0.899, false},
		{"a partial run with only the anchor before the burst compares with that one",
			burstOf(1000, 1*time.Second, 2*time.Second), rawDeletes(500), rawDeleteResult{},
			500, 500, 1000, 1, true},
		{"a partial run with only the anchor after the burst compares with that one",
			burstOf(1000, 1*time.Second, 4*time.Second), rawDeleteResult{}, rawDeletes(300),
			250, 300, 1000, 250.0 / 300, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{scale: scaleResult{burst: tc.burst, rawDeleteBefore: tc.before}, rawDeleteAfter: tc.after}
			got := r.expiryFigures()
			if !near(got.rate, tc.rate) || !near(got.rawDelete, tc.rawDelete) || !near(got.arrival, tc.arrive) ||
				!near(got.ratio, tc.ratio) || got.met != tc.met {
				t.Errorf("expiryFigures() = %+v, want rate %v, raw DELETE %v, arrival %v, ratio %v, met %v",
					got, tc.rate, tc.rawDelete, tc.arrive, tc.ratio, tc.met)
			}
		})
	}
}

func TestRawDeleteRateWithNeitherAnchorIsZero(t *testing.T) {
	if got := (&report{}).rawDeleteRate(); got != 0 {
		t.Errorf("rawDeleteRate() = %v with no raw DELETEs, want 0", got)
	}
}

// loadAt is a load that made rate calls a second over a second, in rounds of the given rates.
func loadAt(rate int, rounds ...float64) loadResult {
	return loadResult{ok: rate, duration: time.Second, rounds: rounds}
}

func TestRatioOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b loadResult
		want pairRatio
		text string
	}{
		{"two rounds each give the range of the rounds' ratios",
			loadAt(1100, 100, 120), loadAt(1000, 100, 100), pairRatio{ratio: 1.1, lo: 1, hi: 1.2, rounds: true},
			"1.10x (rounds 1.00-1.20)"},
		{"rounds compare in the order they ran",
			loadAt(900, 80, 100, 90), loadAt(1000, 100, 80, 90), pairRatio{ratio: 0.9, lo: 0.8, hi: 1.25, rounds: true},
			"0.90x (rounds 0.80-1.25)"},
		{"only the rounds both ran count",
			loadAt(1000, 100, 100, 500), loadAt(1000, 100, 100), pairRatio{ratio: 1, lo: 1, hi: 1, rounds: true},
			"1.00x (rounds 1.00-1.00)"},
		{"a single round gives no range",
			loadAt(840, 84), loadAt(1000, 100, 100), pairRatio{ratio: 0.84}, "0.84x"},
		{"an anchor that did not run gives no ratio",
			loadAt(840, 84, 84), loadResult{}, pairRatio{ratio: math.NaN()}, "NaNx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ratioOf(tc.a, tc.b)
			if !near(got.ratio, tc.want.ratio) || !near(got.lo, tc.want.lo) || !near(got.hi, tc.want.hi) ||
				got.rounds != tc.want.rounds {
				t.Errorf("ratioOf() = %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.text {
				t.Errorf("String() = %q, want %q", got.String(), tc.text)
			}
		})
	}
}

func TestAtLeast(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a, b  loadResult
		share float64
		want  bool
	}{
		{"the anchor's own rate meets 1.0x", loadAt(1000), loadAt(1000), minCoalescedRatio, true},
		{"one call a second less fails 1.0x", loadAt(999), loadAt(1000), minCoalescedRatio, false},
		{"exactly 0.9x meets 0.9x", loadAt(900), loadAt(1000), minUncoalescedRatio, true},
		{"under 0.9x fails it", loadAt(899), loadAt(1000), minUncoalescedRatio, false},
		{"a load that did not run meets nothing", loadResult{}, loadAt(1000), minUncoalescedRatio, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := atLeast(tc.a, tc.b, tc.share); got != tc.want {
				t.Errorf("atLeast(%v/s, %v/s, %v) = %v, want %v", tc.a.throughput(), tc.b.throughput(), tc.share, got, tc.want)
			}
		})
	}
}

func TestScaleTargets(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		scale                      scaleResult
		writes, other              float64
		writesMet, otherMet, rssOK bool
	}{
		{"one write a keep-alive and a few reviews meet both",
			scaleResult{keepAlives: 20000, writes: 20000, other: 8, rss: 142}, 1, 0.0004, true, true, true},
		{"one extra write fails the writes' target, though it shows as 1.000",
			scaleResult{keepAlives: 20000, writes: 20001, other: 8, rss: 142}, 1.00005, 0.0004, false, true, true},
		{"exactly 0.05 other requests a keep-alive meets",
			scaleResult{keepAlives: 20000, writes: 20000, other: 1000, rss: 142}, 1, 0.05, true, true, true},
		{"a review for every keep-alive fails",
			scaleResult{keepAlives: 20000, writes: 20000, other: 20000, rss: 142}, 1, 1, true, false, true},
		{"no keep-alive answered meets neither",
			scaleResult{rss: 142}, math.NaN(), math.NaN(), false, false, true},
		{"exactly 150 MiB meets", scaleResult{keepAlives: 1, writes: 1, rss: 150}, 1, 0, true, true, true},
		{"over 150 MiB fails", scaleResult{keepAlives: 1, writes: 1, rss: 150.5}, 1, 0, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.scale
			if !near(s.writesPerKeepAlive(), tc.writes) || !near(s.otherPerKeepAlive(), tc.other) {
				t.Errorf("per keep-alive: writes %v, other %v; want %v, %v", s.writesPerKeepAlive(), s.otherPerKeepAlive(),
					tc.writes, tc.other)
			}
			if s.writesMet() != tc.writesMet || s.otherMet() != tc.otherMet || s.rssMet() != tc.rssOK {
				t.Errorf("met (writes, other, RSS) = (%v, %v, %v), want (%v, %v, %v)", s.writesMet(), s.otherMet(),
					s.rssMet(), tc.writesMet, tc.otherMet, tc.rssOK)
			}
		})
	}
}

func TestEarlyDeletionsCountEveryExpiryRun(t *testing.T) {
	r := &report{scale: scaleResult{burst: expiryResult{early: 2}}, quiet: expiryResult{early: 3}}
	if got := r.earlyDeletions(); got != 5 {
		t.Errorf("earlyDeletions() = %d, want 5", got)
	}
}

func TestPersistence(t *testing.T) {
	coalesced := func(writes, controlPlane float64) loadResult {
		return loadResult{duration: 10 * time.Second, writes: writes, cpu: cpuUsage{controlPlane: controlPlane}}
	}
	for _, tc := range []struct {
		name    string
		op, sim loadResult
		want    persistenceCost
		ok      bool
	}{
		{"the control plane's cores above vcsim's, per write and as a share of the machine",
			coalesced(270, 10), coalesced(0, 8.6), persistenceCost{writeRate: 27, extraCores: 0.14, perWrite: 0.14 / 27, share: 0.07}, true},
		{"slices of different lengths compare in cores",
			coalesced(270, 10), loadResult{duration: 5 * time.Second, cpu: cpuUsage{controlPlane: 4.5}},
			persistenceCost{writeRate: 27, extraCores: 0.1, perWrite: 0.1 / 27, share: 0.05}, true},
		{"a control plane that took less than during vcsim's turns costs less than nothing",
			coalesced(100, 8), coalesced(0, 9), persistenceCost{writeRate: 10, extraCores: -0.1, perWrite: -0.01, share: -0.05}, true},
		{"no write gives no row", coalesced(0, 10), coalesced(0, 8), persistenceCost{}, false},
		{"no vcsim load gives no row", coalesced(270, 10), loadResult{}, persistenceCost{}, false},
		{"no operator load gives no row", loadResult{}, coalesced(0, 8), persistenceCost{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := persistence(tc.op, tc.sim, 2)
			if ok != tc.ok || !near(got.writeRate, tc.want.writeRate) || !near(got.extraCores, tc.want.extraCores) ||
				!near(got.perWrite, tc.want.perWrite) || !near(got.share, tc.want.share) {
				t.Errorf("persistence() = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestBurstAtRawCost(t *testing.T) {
	// Each anchor deleted 400 a second; the burst's API server took 1.25 cores.
	cost := func(deletions int, apiServer time.Duration) deletionCost {
		return deletionCost{deletions: deletions, apiServer: apiServer}
	}
	burst := cost(9000, 25*time.Second)
	for _, tc := range []struct {
		name                 string
		before, burst, after deletionCost
		want                 burstAtRawCost
		ok                   bool
	}{
		{"at the plain DELETEs' mean cost the burst's cores delete at the anchor's rate",
			cost(8000, 24*time.Second), burst, cost(8000, 26*time.Second),
			burstAtRawCost{raw: 3125 * time.Microsecond, rate: 400, ratio: 1}, true},
		{"cheaper plain DELETEs would have deleted faster",
			cost(8000, 20*time.Second), burst, cost(8000, 20*time.Second),
			burstAtRawCost{raw: 2500 * time.Microsecond, rate: 500, ratio: 1.25}, true},
		{"no comparison without the anchor after the burst", cost(8000, 24*time.Second), burst, deletionCost{}, burstAtRawCost{}, false},
		{"no comparison without the anchor before the burst", deletionCost{}, burst, cost(8000, 26*time.Second), burstAtRawCost{}, false},
		{"no comparison without deletions in the burst's window",
			cost(8000, 24*time.Second), cost(0, 25*time.Second), cost(8000, 26*time.Second), burstAtRawCost{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{
				scale: scaleResult{burst: expiryResult{cost: tc.burst},
					rawDeleteBefore: rawDeleteResult{n: 10000, took: 25 * time.Second, cost: tc.before}},
				rawDeleteAfter: rawDeleteResult{n: 10000, took: 25 * time.Second, cost: tc.after}}
			got, ok := r.burstAtRawCost()
			if ok != tc.ok || got.raw != tc.want.raw || !near(got.rate, tc.want.rate) || !near(got.ratio, tc.want.ratio) {
				t.Errorf("burstAtRawCost() = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFindAnEmptyLoadWhenItDidNotRun(t *testing.T) {
	r := &report{load: []loadResult{{mode: modeVcsim, concurrency: 16, ok: 1}, {mode: modeVcsim, concurrency: 64, ok: 2}}}
	if got := r.find(modeVcsim, 64); got.ok != 2 {
		t.Errorf("find(vcsim, 64) = %+v, want the second load", got)
	}
	if got := r.find(modeCoalesced, 64); got.ok != 0 || got.duration != 0 {
		t.Errorf("find(coalesced, 64) = %+v, want an empty load", got)
	}
}
