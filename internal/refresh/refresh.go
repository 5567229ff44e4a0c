// Package refresh writes the lastActivity of sessions kept alive without pause before their
// coalescing window ends, in batches.
//
// A keep-alive within its session's window is answered without a write (session.Coalesces);
// the first one after the window writes. Left at that, each session kept alive after every
// chunk costs the API server a write of its own once per window, spread out in time, and a
// write alone costs an API server and etcd that are otherwise idle far more CPU than one among
// others (on a 2-core machine, at 25 status writes a second: 8.5 ms each one at a time, 5 ms in
// batches every 200 ms). So a keep-alive answered in the last session.RefreshLead of the window
// queues its session here, and the Refresher writes what was queued together, an Interval
// after the first. The write records the latest queued keep-alive's own time, never a later
// one.
//
// A batch can outlast the lead: hundreds of sessions kept alive since the same moment come due
// together, and a busy API server takes longer over each write. A keep-alive after the window
// then leaves its write to the refresh of its session already queued or under way
// (session.DefersToRefresh, JoinPending), up to a second window: otherwise every client of the
// batch would wait for a write of its own, racing the refresh into a conflict, until the batch
// had landed. A refresh that fails, or that reaches its session only after that second window
// (skipped: keep-alives write by then), costs nothing else: the first keep-alive after it
// writes, as it would without the Refresher.
package refresh

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
)

const (
	// Interval is how long the Refresher gathers sessions before it writes them; well within
	// session.RefreshLead, so that a batch lands before its sessions' windows end.
	Interval = 200 * time.Millisecond
	// workers bounds the writes of a batch in flight.
	workers = 32
	// batchTimeout bounds a batch's writes, so that a hung API server stalls no more than this.
	batchTimeout = 10 * time.Second
)

// Refresher writes queued sessions' lastActivity in batches. It runs on every replica: each
// refreshes the sessions its own REST server answered.
type Refresher struct {
	store  *store.Updates
	policy session.Policy
	clock  clock.PassiveClock
	log    logr.Logger

	mu sync.Mutex
	// queue holds, per session, its latest keep-alive answered without a write.
	queue map[types.UID]keepAlive
	// writing holds the sessions of the batch being written until their write returns.
	writing map[types.UID]bool
	// wake tells Start that the queue is no longer empty.
	wake chan struct{}
}

// keepAlive is a keep-alive at a time, on the session as the REST server found it.
type keepAlive struct {
	session *v1alpha1.UpdateSession
	at      time.Time
}

// New returns a Refresher that writes through s under policy p.
func New(s *store.Updates, p session.Policy, clk clock.PassiveClock, log logr.Logger) *Refresher {
	return &Refresher{store: s, policy: p, clock: clk, log: log, queue: map[types.UID]keepAlive{},
		writing: map[types.UID]bool{}, wake: make(chan struct{}, 1)}
}

// Queue asks for us's lastActivity to be written as at with the next batch; a later keep-alive
// of the same session before then replaces it. us is the cache's copy: it is not modified.
func (r *Refresher) Queue(us *v1alpha1.UpdateSession, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queueLocked(us, at)
}

// JoinPending queues a keep-alive of us at at, as Queue does, only if a refresh of us is
// already queued or being written, and reports whether one was: the keep-alive can then leave
// its write to that refresh (see session.DefersToRefresh). A refresh being written records an
// earlier keep-alive; this one is written after it only if the session needs it by then.
func (r *Refresher) JoinPending(us *v1alpha1.UpdateSession, at time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, queued := r.queue[us.UID]; !queued && !r.writing[us.UID] {
		return false
	}
	r.queueLocked(us, at)
	return true
}

func (r *Refresher) queueLocked(us *v1alpha1.UpdateSession, at time.Time) {
	queued, ok := r.queue[us.UID]
	if !ok || at.After(queued.at) {
		r.queue[us.UID] = keepAlive{session: us, at: at}
	}
	if !ok {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// NeedLeaderElection is false: every replica refreshes the sessions it answered.
func (r *Refresher) NeedLeaderElection() bool { return false }

// Start writes batches until ctx is done, then writes what is still queued.
func (r *Refresher) Start(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			r.flush(context.WithoutCancel(ctx))
			return nil
		case <-r.wake:
		}
		select {
		case <-time.After(Interval):
			r.flush(ctx)
		case <-ctx.Done(): // the next turn writes it
		}
	}
}

// flush writes every queued keep-alive, at most workers at a time.
func (r *Refresher) flush(ctx context.Context) {
	r.mu.Lock()
	batch := r.queue
	r.queue = make(map[types.UID]keepAlive, len(batch))
	for uid := range batch {
		r.writing[uid] = true
	}
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, batchTimeout)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failed   int
		firstErr error
	)
	slots := make(chan struct{}, workers)
	for _, ka := range batch {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			err := r.write(ctx, ka)
			r.mu.Lock()
			delete(r.writing, ka.session.UID) // after the store has recorded the write
			r.mu.Unlock()
			if err != nil {
				mu.Lock()
				failed++
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed > 0 {
		r.log.Error(firstErr, "Refreshing lastActivity failed; the first keep-alive after the window writes it",
			"failed", failed, "batch", len(batch))
	}
}

// write records ka on the freshest version of its session, unless that needs nothing (it was
// written since ka was queued: a keep-alive during the previous batch's writes queues the
// version those writes replace), is gone, or is no longer left to the refresh: past two
// windows, keep-alives write it themselves, and the refresh would race them into a conflict.
func (r *Refresher) write(ctx context.Context, ka keepAlive) error {
	cur, ok := r.store.Cached(string(ka.session.UID))
	if !ok || !r.policy.RefreshDue(cur, ka.at) || !r.policy.DefersToRefresh(cur, nil, r.clock.Now()) {
		return nil
	}
	written, err := r.store.Update(ctx, cur.DeepCopy(), store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		return r.policy.Refresh(us, ka.at), nil
	})
	if store.IsNotFound(err) {
		return nil
	}
	if written {
		metrics.KeepAliveRefreshes.Inc()
	}
	return err
}
