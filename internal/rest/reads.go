package rest

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// errReadBudget: the caller has spent its budget of reads; it should retry shortly.
var errReadBudget = errors.New("too many reads of the Kubernetes API server or the content store by this caller; retry shortly")

// ReadLimits bound the reads that one caller's REST calls cost: of the API server (get and
// list read it, not the cache, so that a client sees its own changes on every replica), and of
// the content store (an item's file and storage calls, validate, remove of a file a session
// lacks), so that no caller can spend the operator's budget of either alone.
type ReadLimits struct {
	// QPS and Burst: the rate of each caller's reads.
	QPS   float64
	Burst int
}

// DefaultReadLimits are 50 reads a second per caller, 200 after a quiet spell: room for a client
// running a script of calls, a fortieth of the operator's own API-server rate.
var DefaultReadLimits = ReadLimits{QPS: 50, Burst: 200}

// Or returns l, or d when l is zero.
func (l ReadLimits) Or(d ReadLimits) ReadLimits {
	if l == (ReadLimits{}) {
		return d
	}
	return l
}

// maxReaders bounds the callers whose read budgets are remembered. A budget that has refilled
// is the same as a new one and is dropped first; past that, an arbitrary one is.
const maxReaders = 4096

// readBudgets holds a token bucket per caller.
type readBudgets struct {
	limits ReadLimits

	mu      sync.Mutex
	callers map[string]*rate.Limiter
}

func newReadBudgets(l ReadLimits) *readBudgets {
	return &readBudgets{limits: l, callers: map[string]*rate.Limiter{}}
}

// take spends one read of caller's budget at now, or refuses with errReadBudget.
func (b *readBudgets) take(caller string, now time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.callers[caller]
	if l == nil {
		b.makeRoom(now)
		l = rate.NewLimiter(rate.Limit(b.limits.QPS), b.limits.Burst)
		b.callers[caller] = l
	}
	if !l.AllowN(now, 1) {
		return errReadBudget
	}
	return nil
}

// makeRoom drops budgets until there is room for one more: the refilled ones, else one.
func (b *readBudgets) makeRoom(now time.Time) {
	if len(b.callers) < maxReaders {
		return
	}
	for caller, l := range b.callers {
		if l.TokensAt(now) >= float64(b.limits.Burst) {
			delete(b.callers, caller)
		}
	}
	for caller := range b.callers {
		if len(b.callers) < maxReaders {
			return
		}
		delete(b.callers, caller)
	}
}
