package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// scaleResult is the scale phase: n sessions, each kept alive every keepAlivePeriod by one
// service account, then all expiring within a burst window.
type scaleResult struct {
	n int
	// keepAlives answered, and failed, over the rounds; writes and other requests the API
	// server served meanwhile (other: TokenReviews, SubjectAccessReviews, GETs and LISTs).
	keepAlives, failed int
	writes, other      float64
	// otherByKind splits other by otherRequestKinds.
	otherByKind map[string]float64
	rss         float64
	// heap holds the Go runtime's memory figures (MemStats) when rss was read.
	heap  map[string]float64
	burst expiryResult
	// rawDeleteBefore is the raw-DELETE anchor measured right before the burst; the expiry phase
	// measures it again right after.
	rawDeleteBefore rawDeleteResult
}

const (
	keepAlivePeriod = 10 * time.Second
	keepAliveRounds = 2
)

// otherRequestKinds are the requests a keep-alive may cost beside its write.
var otherRequestKinds = []struct {
	name  string
	match func(labels map[string]string) bool
}{
	{"TokenReviews", func(l map[string]string) bool { return l["resource"] == "tokenreviews" }},
	{"SubjectAccessReviews", func(l map[string]string) bool { return l["resource"] == "subjectaccessreviews" }},
	{"GETs", func(l map[string]string) bool { return l["resource"] == sessionsResource && l["verb"] == "GET" }},
	{"LISTs", func(l map[string]string) bool { return l["resource"] == sessionsResource && l["verb"] == "LIST" }},
}

// otherRequests counts the API server's requests of each of otherRequestKinds.
func (b *bench) otherRequests() map[string]float64 {
	counts := map[string]float64{}
	for _, kind := range otherRequestKinds {
		counts[kind.name] = b.apiRequests(kind.match)
	}
	return counts
}

// otherSummary is "N TokenReviews, M SubjectAccessReviews, ...".
func (r scaleResult) otherSummary() string {
	parts := make([]string, 0, len(otherRequestKinds))
	for _, kind := range otherRequestKinds {
		parts = append(parts, fmt.Sprintf("%.0f %s", r.otherByKind[kind.name], kind.name))
	}
	return strings.Join(parts, ", ")
}

// measureScale creates n sessions, keeps each alive every keepAlivePeriod for keepAliveRounds
// with one service account's token, counting what the API server serves per keep-alive and
// the operator's memory, then lets them all expire within window: the expiry burst, right after
// a raw-DELETE anchor of n other sessions with the same manager running.
func (b *bench) measureScale(ctx context.Context, n int, window time.Duration) (scaleResult, error) {
	step(fmt.Sprintf("scale: %d sessions kept alive every %v by one service account", n, keepAlivePeriod))
	p, err := b.startSessionsPhase(ctx, "scale", n, nil)
	if err != nil {
		return scaleResult{}, err
	}
	m := p.m
	defer p.stop()
	res := scaleResult{n: n, burst: expiryResult{n: n, spread: window, createTook: p.createTook}}
	// The first round authenticates the token and warms the decision cache, as a client's
	// first call does; the rounds after it are what a steady client costs.
	call := keepAlive(b.http, m.restURL, p.token, p.ids)
	if _, failed := paced(n, keepAlivePeriod, call); failed > 0 {
		return res, fmt.Errorf("%d keep-alives of the first round failed", failed)
	}
	writes, other := b.apiRequests(isStatusWrite), b.otherRequests()
	for range keepAliveRounds {
		ok, failed := paced(n, keepAlivePeriod, call)
		res.keepAlives += ok
		res.failed += failed
	}
	res.writes = b.apiRequests(isStatusWrite) - writes
	res.otherByKind = b.otherRequests()
	for kind, before := range other {
		res.otherByKind[kind] -= before
		res.other += res.otherByKind[kind]
	}
	res.rss, _ = m.rss()
	res.burst.rss = res.rss
	res.heap = m.heap(filepath.Join(b.work, "heap-scale.pprof"))
	fmt.Fprintf(os.Stderr, "    %d keep-alives (%d failed): %.3f writes and %.4f other requests each (%s); RSS %.0f MiB (%s)\n",
		res.keepAlives, res.failed, res.writes/float64(res.keepAlives), res.other/float64(res.keepAlives),
		res.otherSummary(), res.rss, res.memory())
	if res.rawDeleteBefore, err = b.measureRawDelete(ctx, "raw-delete-before", n, m); err != nil {
		return res, err
	}
	step(fmt.Sprintf("expiry burst: the %d sessions expire within %v", n, window))
	return res, b.expireTogether(ctx, m, p.ns, p.names, p.watch, b.deletionProfiles("burst", m), &res.burst)
}

// paced calls call(i) for each of n sessions once, spread evenly over period (as n clients
// keeping their sessions alive every period would), from up to 256 calls in flight; it returns
// how many succeeded and failed. When the server is slower than the pace, calls queue.
func paced(n int, period time.Duration, call func(int) error) (ok, failed int) {
	var okN, failedN atomic.Int64
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(period * time.Duration(i) / time.Duration(n))))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := call(i); err != nil {
				failedN.Add(1)
				return
			}
			okN.Add(1)
		})
	}
	wg.Wait()
	return int(okN.Load()), int(failedN.Load())
}

// memory says what the Go runtime holds of the resident size, in MiB.
func (r scaleResult) memory() string {
	mib := func(name string) float64 { return r.heap[name] / (1 << 20) }
	return fmt.Sprintf("Go heap in use %.0f, idle %.0f of which released %.0f, stacks %.0f, runtime other %.0f MiB; %.0f GCs",
		mib("HeapInuse"), mib("HeapIdle"), mib("HeapReleased"), mib("Stack"),
		mib("Sys")-mib("HeapSys")-mib("Stack"), r.heap["NumGC"])
}
