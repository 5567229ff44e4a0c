package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// expiryResult is how late, after its expirationTime, each of n sessions was deleted.
type expiryResult struct {
	n                  int
	lateness           []time.Duration // sorted
	early              int
	rss, peakRSS       float64
	spread, createTook time.Duration
	// deletions are the sessions' expirationTimes and when their deletions were seen, in order of
	// expirationTime.
	deletions []deletion
	// events counts the events recorded meanwhile, by reason.
	events map[string]int
	// cost is what the deletions of the profiled window cost (the burst only).
	cost deletionCost
}

type deletion struct{ expired, deleted time.Time }

// rate is the achieved expiry rate: sessions deleted per second from the first expirationTime
// to the last deletion.
func (e expiryResult) rate() float64 {
	if len(e.deletions) == 0 {
		return 0
	}
	last := e.deletions[0].deleted
	for _, d := range e.deletions {
		if d.deleted.After(last) {
			last = d.deleted
		}
	}
	return float64(len(e.deletions)) / last.Sub(e.deletions[0].expired).Seconds()
}

// arrivalRate is how fast the sessions came due: n over the spread of their expirationTimes.
func (e expiryResult) arrivalRate() float64 {
	if len(e.deletions) < 2 {
		return 0
	}
	return float64(len(e.deletions)) / e.deletions[len(e.deletions)-1].expired.Sub(e.deletions[0].expired).Seconds()
}

// deletionWatch records, through an informer, when each session of a namespace is deleted and
// how late that was against the expirationTime of its last state.
type deletionWatch struct {
	mu        sync.Mutex
	deletions []deletion
}

func watchDeletions(ctx context.Context, b *bench, namespace string) (*deletionWatch, error) {
	w := &deletionWatch{}
	return w, testenv.OnDeletion(ctx, b.cfg, namespace, func(us *v1alpha1.UpdateSession, at time.Time) {
		if us.Status.ExpirationTime == nil {
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.deletions = append(w.deletions, deletion{expired: us.Status.ExpirationTime.Time, deleted: at})
	})
}

func (w *deletionWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.deletions)
}

// seenBetween counts the deletions seen from from until to.
func (w *deletionWatch) seenBetween(from, to time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, d := range w.deletions {
		if !d.deleted.Before(from) && d.deleted.Before(to) {
			n++
		}
	}
	return n
}

// waitAll waits until n deletions were seen, or until deadline.
func (w *deletionWatch) waitAll(n int, deadline time.Time) error {
	for last := -1; ; time.Sleep(time.Second) {
		got := w.count()
		if got == n {
			return nil
		}
		if got != last {
			fmt.Fprintf(os.Stderr, "    %d of %d deleted\n", got, n)
			last = got
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d sessions deleted", got, n)
		}
	}
}

// result sorts the deletions by expirationTime and measures their lateness.
func (w *deletionWatch) result(res *expiryResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res.deletions = slices.SortedFunc(slices.Values(w.deletions), func(a, b deletion) int { return a.expired.Compare(b.expired) })
	for _, d := range res.deletions {
		late := d.deleted.Sub(d.expired)
		res.lateness = append(res.lateness, late)
		if late < 0 {
			res.early++
		}
	}
	slices.Sort(res.lateness)
}

// expireTogether makes the n sessions of ns expire within the same spread, and measures how
// late each one is deleted. The sessions have been kept alive through the REST API, so that
// their lastActivity times are as scattered as real clients make them; each session's timeout
// is set so that lastActivity + timeout lands at its own moment, spread evenly over the window.
// prof, when not nil, profiles the first deletionProfileFor from the first deadline.
func (b *bench) expireTogether(ctx context.Context, m *managerProcess, ns string, names []string, watch *deletionWatch,
	prof *profiler, res *expiryResult) error {
	// Leave time to set every timeout before the first deadline.
	window := time.Now().Add(30*time.Second + time.Duration(len(names))*12*time.Millisecond)
	if err := b.scheduleExpiry(ctx, ns, names, window, res.spread); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "    %d sessions expire from %s to %s\n", len(names), window.Format("15:04:05"),
		window.Add(res.spread).Format("15:04:05"))
	eventsBefore := b.eventCounts(ctx, ns)
	profiled := make(chan struct{})
	go func() {
		defer close(profiled)
		time.Sleep(time.Until(window))
		prof.record(deletionProfileFor)()
	}()
	err := watch.waitAll(len(names), window.Add(res.spread+3*time.Minute))
	<-profiled
	prof.merge()
	if err != nil {
		return err
	}
	if prof != nil {
		res.cost = prof.deletionCost(watch.seenBetween(window, window.Add(deletionProfileFor)))
		fmt.Fprintf(os.Stderr, "    %s\n", res.cost)
	}
	time.Sleep(events.FoldInterval + 2*time.Second) // the last folded events
	res.events = b.eventCounts(ctx, ns)
	for reason, n := range eventsBefore {
		res.events[reason] -= n
	}
	_, res.peakRSS = m.rss()
	watch.result(res)
	fmt.Fprintf(os.Stderr, "    due at %.0f/s, deleted at %.0f/s; late p50 %v, p99 %v; %d early; events: %s\n",
		res.arrivalRate(), res.rate(), percentile(res.lateness, .5).Round(time.Millisecond),
		percentile(res.lateness, .99).Round(time.Millisecond), res.early, eventSummary(res.events))
	return nil
}

// eventCounts counts the events of ns by reason.
func (b *bench) eventCounts(ctx context.Context, ns string) map[string]int {
	counts := map[string]int{}
	list, err := b.cs.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "    listing events:", err)
		return counts
	}
	for _, ev := range list.Items {
		counts[ev.Reason]++
	}
	return counts
}

// measureQuietExpiry lets n sessions expire within 10 s, as a cluster's sessions do on a
// normal day: each should be deleted within a fraction of a second, with its own event.
func (b *bench) measureQuietExpiry(ctx context.Context, n int) (expiryResult, error) {
	step(fmt.Sprintf("quiet expiry: %d sessions expiring within 10s", n))
	p, err := b.startSessionsPhase(ctx, "expiry-quiet", n, nil)
	if err != nil {
		return expiryResult{}, err
	}
	defer p.stop()
	res := expiryResult{n: n, spread: 10 * time.Second, createTook: p.createTook}
	if err := b.keepAliveAll(p.m.restURL, p.token, p.ids); err != nil {
		return res, err
	}
	res.rss, _ = p.m.rss()
	return res, b.expireTogether(ctx, p.m, p.ns, p.names, p.watch, nil, &res)
}

// sessionsPhase is what the expiry phases start from: a manager, a namespace with an uploader
// whose deletions are watched, and n sessions in it with a long timeout.
type sessionsPhase struct {
	m          *managerProcess
	ownManager bool
	ns, token  string
	watch      *deletionWatch
	names, ids []string
	createTook time.Duration
}

// startSessionsPhase makes the namespace and its n sessions, with the running manager m, or
// with a manager of its own when m is nil; stop when done.
func (b *bench) startSessionsPhase(ctx context.Context, namespace string, n int, m *managerProcess) (*sessionsPhase, error) {
	p := &sessionsPhase{m: m}
	if m == nil {
		var err error
		if p.m, err = b.startManager(); err != nil {
			return nil, err
		}
		p.ownManager = true
	}
	err := func() (err error) {
		if p.ns, err = b.namespace(ctx, namespace); err != nil {
			return err
		}
		if p.token, err = b.uploader(ctx, p.ns); err != nil {
			return err
		}
		if p.watch, err = watchDeletions(ctx, b, p.ns); err != nil {
			return err
		}
		start := time.Now()
		p.names, p.ids, err = b.createSessions(ctx, p.ns, n)
		p.createTook = time.Since(start)
		return err
	}()
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// stop stops the phase's manager if it started it.
func (p *sessionsPhase) stop() {
	if p.ownManager {
		p.m.stop()
	}
}

// rawDeleteResult is how fast the API server deletes sessions for a plain client.
type rawDeleteResult struct {
	n    int
	took time.Duration
	cost deletionCost
}

// rate is the plain DELETEs per second; 0 when none ran.
func (r rawDeleteResult) rate() float64 {
	if r.n == 0 {
		return 0
	}
	return float64(r.n) / r.took.Seconds()
}

// measureRawDelete creates n sessions with a long timeout in namespace, then deletes them with
// plain DELETEs, 64 at a time, as fast as the API server takes them: the anchor of the expiry
// rate. The operator runs meanwhile (m, or a manager of its own when m is nil) and a deletion
// watch is open, as in the expiry burst.
func (b *bench) measureRawDelete(ctx context.Context, namespace string, n int, m *managerProcess) (rawDeleteResult, error) {
	step(fmt.Sprintf("raw DELETE: %d sessions, 64 workers", n))
	p, err := b.startSessionsPhase(ctx, namespace, n, m)
	if err != nil {
		return rawDeleteResult{}, err
	}
	defer p.stop()
	prof := b.deletionProfiles(namespace, p.m)
	profiled := prof.record(deletionProfileFor)
	start := time.Now()
	err = forEach(n, 64, func(i int) error {
		us := &v1alpha1.UpdateSession{}
		us.Namespace, us.Name = p.ns, p.names[i]
		return b.client.Delete(ctx, us)
	})
	res := rawDeleteResult{n: n, took: time.Since(start)}
	profiled()
	prof.merge()
	if err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "    %d deleted in %v: %.0f/s\n", n, res.took.Round(time.Millisecond), res.rate())
	if err := p.watch.waitAll(n, time.Now().Add(time.Minute)); err != nil {
		return res, err
	}
	res.cost = prof.deletionCost(p.watch.seenBetween(start, start.Add(deletionProfileFor)))
	fmt.Fprintf(os.Stderr, "    %s\n", res.cost)
	return res, nil
}

// deletionCost is the CPU that the deletions seen within a profiled window (deletionProfileFor
// from its first deletion or deadline) cost the API server and the manager. The API server's
// CPU per deletion tells a burst whose deletions cost more (the operator's requests) from a
// machine that ran slower (the plain DELETEs around it cost more too).
type deletionCost struct {
	deletions          int
	apiServer, manager time.Duration
}

// perDeletion is the API server's CPU time per deletion.
func (c deletionCost) perDeletion() time.Duration {
	if c.deletions == 0 {
		return 0
	}
	return c.apiServer / time.Duration(c.deletions)
}

func (c deletionCost) String() string {
	return fmt.Sprintf("in the first %v: %d deletions; API server %.2f cores, %v per deletion; manager %.2f cores",
		deletionProfileFor, c.deletions, c.cores(c.apiServer), c.perDeletion().Round(10*time.Microsecond),
		c.cores(c.manager))
}

// cores is cpu over the profiled window, in cores.
func (deletionCost) cores(cpu time.Duration) float64 {
	return cpu.Seconds() / deletionProfileFor.Seconds()
}

// deletionCost reads the window's merged profiles of the API server and the manager.
func (p *profiler) deletionCost(deletions int) deletionCost {
	return deletionCost{deletions: deletions, apiServer: p.cpu("apiserver"), manager: p.cpu("manager")}
}

// deletionProfileFor is how long the CPU profiles of the raw-DELETE anchors and the burst run,
// from their first deletion (or deadline): a span all three fill at 10000 sessions, so that
// their profiles compare alike.
const deletionProfileFor = 20 * time.Second

// deletionProfiles profiles the manager and the API server during the deletions of run: what a
// deletion cost each, and where, raw or by the operator.
func (b *bench) deletionProfiles(run string, m *managerProcess) *profiler {
	path := func(process string) string {
		return filepath.Join(b.work, fmt.Sprintf("cpu-%s-%s.pprof", run, process))
	}
	return newProfiler(path, servedProfile("manager", m.pprofURL), b.apiServer())
}

// forEach calls f for 0..n-1 from workers goroutines, and returns the first error.
func forEach(n, workers int, f func(i int) error) error {
	errs := make(chan error, n)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// keepAliveAll keeps every session alive once through the REST API, 64 at a time.
func (b *bench) keepAliveAll(restURL, token string, ids []string) error {
	call := keepAlive(b.http, restURL, token, ids)
	start := time.Now()
	if err := forEach(len(ids), 64, call); err != nil {
		return fmt.Errorf("keep-alive: %w", err)
	}
	fmt.Fprintf(os.Stderr, "    %d keep-alives in %v\n", len(ids), time.Since(start).Round(time.Millisecond))
	return nil
}

// scheduleExpiry sets each session's timeout so that lastActivity + timeout falls at its own
// moment of [from, from+spread), evenly spread; timeouts are whole seconds, so each lands in
// the second before its moment.
func (b *bench) scheduleExpiry(ctx context.Context, ns string, names []string, from time.Time, spread time.Duration) error {
	var list v1alpha1.UpdateSessionList
	if err := b.client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return err
	}
	last := map[string]time.Time{}
	for _, us := range list.Items {
		last[us.Name] = us.Status.LastActivity.Time
	}
	start := time.Now()
	err := forEach(len(names), 64, func(i int) error {
		moment := from.Add(spread * time.Duration(i) / time.Duration(len(names)))
		timeout := int32(moment.Sub(last[names[i]]) / time.Second)
		us := &v1alpha1.UpdateSession{}
		us.Namespace, us.Name = ns, names[i]
		patch := client.RawPatch(types.MergePatchType,
			[]byte(fmt.Sprintf(`{"spec":{"expirationTimeoutSeconds":%d}}`, timeout)))
		return b.client.Patch(ctx, us, patch)
	})
	if err != nil {
		return fmt.Errorf("setting a timeout: %w", err)
	}
	fmt.Fprintf(os.Stderr, "    timeouts set in %v\n", time.Since(start).Round(time.Millisecond))
	if time.Now().After(from) {
		return fmt.Errorf("setting the timeouts took until after the first deadline")
	}
	return nil
}
