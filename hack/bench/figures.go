package main

import (
	"math"
	"time"
)

// The targets' thresholds: what each measured figure must reach against its anchor.
const (
	// minExpiryRatio is the burst's deletion rate over the lower of the raw-DELETE rate and the
	// rate at which its sessions came due.
	minExpiryRatio = 0.9
	// minCoalescedRatio is a coalesced keep-alive load's rate over vcsim's.
	minCoalescedRatio = 1.0
	// minUncoalescedRatio is an uncoalesced keep-alive load's rate over raw PATCH's.
	minUncoalescedRatio = 0.9
	// maxWritesPerKeepAlive and maxOtherPerKeepAlive bound the API-server requests a keep-alive
	// of the scale phase costs.
	maxWritesPerKeepAlive = 1.0
	maxOtherPerKeepAlive  = 0.05
	// maxRSSMiB bounds the operator's resident memory with the scale phase's sessions.
	maxRSSMiB = 150.0
)

// expiryFigures is the expiry burst against its anchor.
type expiryFigures struct {
	// rate is the burst's deletions per second; rawDelete the raw-DELETE anchor's rate, arrival
	// the rate at which the burst's sessions came due.
	rate, rawDelete, arrival float64
	// ratio is rate over the lower of rawDelete and arrival: no burst deletes sessions faster
	// than they come due.
	ratio float64
	met   bool
}

// expiryFigures compares the burst's deletion rate with its anchor.
func (r *report) expiryFigures() expiryFigures {
	burst := r.scale.burst
	ideal := min(r.rawDeleteRate(), burst.arrivalRate())
	return expiryFigures{rate: burst.rate(), rawDelete: r.rawDeleteRate(), arrival: burst.arrivalRate(),
		ratio: burst.rate() / ideal, met: burst.rate() >= minExpiryRatio*ideal}
}

// rawDeleteRate is the raw-DELETE anchor: the mean of its rates right before and right after
// the burst, or the one of them a partial run measured.
func (r *report) rawDeleteRate() float64 {
	var sum float64
	var n int
	for _, d := range []rawDeleteResult{r.scale.rawDeleteBefore, r.rawDeleteAfter} {
		if d.n > 0 {
			sum, n = sum+d.rate(), n+1
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// pairRatio is one load's rate over another's, the two having taken turns in slices (see
// measurePair), with the least and greatest of the same ratio over their rounds: how far it
// moved within the run.
type pairRatio struct {
	ratio, lo, hi float64
	// rounds is whether both loads ran at least two rounds, so that lo and hi say something.
	rounds bool
}

// ratioOf is a's rate over b's, and the range of that ratio over the rounds both ran.
func ratioOf(a, b loadResult) pairRatio {
	q := pairRatio{ratio: a.throughput() / b.throughput()}
	n := min(len(a.rounds), len(b.rounds))
	if n < 2 {
		return q
	}
	q.rounds, q.lo, q.hi = true, math.Inf(1), math.Inf(-1)
	for i := range n {
		r := a.rounds[i] / b.rounds[i]
		q.lo, q.hi = min(q.lo, r), max(q.hi, r)
	}
	return q
}

// atLeast is whether load a ran at least share of load b's rate.
func atLeast(a, b loadResult, share float64) bool { return a.throughput() >= share*b.throughput() }

// writesPerKeepAlive is the status writes the API server served per keep-alive of the scale
// phase.
func (s scaleResult) writesPerKeepAlive() float64 { return s.writes / float64(s.keepAlives) }

// otherPerKeepAlive is the other requests (reviews, GETs, LISTs) the API server served per
// keep-alive of the scale phase.
func (s scaleResult) otherPerKeepAlive() float64 { return s.other / float64(s.keepAlives) }

// writesMet is whether a keep-alive of the scale phase cost at most maxWritesPerKeepAlive
// writes; not when none was answered.
func (s scaleResult) writesMet() bool { return s.writesPerKeepAlive() <= maxWritesPerKeepAlive }

// otherMet is whether a keep-alive of the scale phase cost at most maxOtherPerKeepAlive other
// requests; not when none was answered.
func (s scaleResult) otherMet() bool { return s.otherPerKeepAlive() <= maxOtherPerKeepAlive }

// rssMet is whether the operator's resident memory stayed within maxRSSMiB.
func (s scaleResult) rssMet() bool { return s.rss <= maxRSSMiB }

// earlyDeletions counts the sessions deleted before their expirationTime, in every expiry run.
func (r *report) earlyDeletions() int { return r.scale.burst.early + r.quiet.early }

// persistenceCost is what a coalescing operator's writes cost the control plane beyond what it
// spent during vcsim's turns: CPU that the load generator and the server no longer have.
type persistenceCost struct {
	// writeRate is the operator's status writes per second; extraCores the control plane's cores
	// above those during vcsim's turns.
	writeRate, extraCores float64
	// perWrite is extraCores per write, in seconds; share is extraCores over the machine's cores.
	perWrite, share float64
}

// persistence is what persisting cost the coalesced load op over the vcsim load sim, on a
// machine of cpus cores; false when either did not run or op wrote nothing.
func persistence(op, sim loadResult, cpus int) (persistenceCost, bool) {
	if op.duration == 0 || sim.duration == 0 || op.writeRate() == 0 {
		return persistenceCost{}, false
	}
	extra := op.cores(op.cpu.controlPlane) - sim.cores(sim.cpu.controlPlane)
	return persistenceCost{writeRate: op.writeRate(), extraCores: extra, perWrite: extra / op.writeRate(),
		share: extra / float64(cpus)}, true
}

// burstAtRawCost is what the API server's cores during the burst would have deleted at the
// plain DELETEs' mean CPU per deletion: whether a burst slower than its anchor paid more per
// deletion or ran on a machine that was slower for the plain DELETEs too.
type burstAtRawCost struct {
	// raw is the plain DELETEs' mean CPU per deletion, before and after the burst.
	raw time.Duration
	// rate is the deletions per second the burst's cores would have made at raw; ratio is rate
	// over the raw-DELETE anchor's.
	rate, ratio float64
}

// burstAtRawCost compares the burst's API-server cores with the plain DELETEs' cost; false
// unless both anchors and the burst have profiled deletions.
func (r *report) burstAtRawCost() (burstAtRawCost, bool) {
	before, burst, after := r.scale.rawDeleteBefore.cost, r.scale.burst.cost, r.rawDeleteAfter.cost
	if before.perDeletion() == 0 || after.perDeletion() == 0 || burst.deletions == 0 {
		return burstAtRawCost{}, false
	}
	raw := (before.perDeletion() + after.perDeletion()) / 2
	would := burst.cores(burst.apiServer) / raw.Seconds()
	return burstAtRawCost{raw: raw, rate: would, ratio: would / r.rawDeleteRate()}, true
}

// find is the load of mode at c clients, or an empty one when it did not run.
func (r *report) find(mode string, c int) loadResult {
	for _, l := range r.load {
		if l.mode == mode && l.concurrency == c {
			return l
		}
	}
	return loadResult{}
}
