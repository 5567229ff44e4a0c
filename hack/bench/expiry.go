package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// expiryResult is how late, after its expirationTime, each of n sessions was deleted.
type expiryResult struct {
	n                  int
	lateness           []time.Duration // sorted
	early              int
	rss, peakRSS       float64
	spread, createTook time.Duration
}

// deletionWatch records, through an informer, when each session of a namespace is deleted and
// how late that was against the expirationTime of its last state.
type deletionWatch struct {
	mu       sync.Mutex
	lateness []time.Duration
	early    int
}

func watchDeletions(ctx context.Context, b *bench, namespace string) (*deletionWatch, error) {
	c, err := cache.New(b.cfg, cache.Options{Scheme: b.scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		return nil, err
	}
	informer, err := c.GetInformer(ctx, &v1alpha1.UpdateSession{})
	if err != nil {
		return nil, err
	}
	w := &deletionWatch{}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{DeleteFunc: func(obj any) {
		now := time.Now()
		if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		us, ok := obj.(*v1alpha1.UpdateSession)
		if !ok || us.Status.ExpirationTime == nil {
			return
		}
		late := now.Sub(us.Status.ExpirationTime.Time)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.lateness = append(w.lateness, late)
		if late < 0 {
			w.early++
		}
	}})
	if err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("deletion watch did not sync")
	}
	return w, nil
}

func (w *deletionWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lateness)
}

// measureExpiry creates n sessions, keeps each alive once at a moment spread evenly over
// spread, so that their expirationTimes spread the same way, and measures how late each one
// is deleted. The operator's memory is read when all n exist.
func measureExpiry(ctx context.Context, b *bench, m *managerProcess, n int, spread time.Duration) (expiryResult, error) {
	ns, err := b.namespace(ctx, fmt.Sprintf("expiry-%d", n))
	if err != nil {
		return expiryResult{}, err
	}
	token, err := b.uploader(ctx, ns)
	if err != nil {
		return expiryResult{}, err
	}
	watch, err := watchDeletions(ctx, b, ns)
	if err != nil {
		return expiryResult{}, err
	}
	// Long enough that no session expires from its creation before its keep-alive.
	timeout := 60 + int32(n/100)
	start := time.Now()
	_, ids, err := b.createSessions(ctx, ns, n, timeout)
	if err != nil {
		return expiryResult{}, err
	}
	res := expiryResult{n: n, spread: spread, createTook: time.Since(start)}
	fmt.Fprintf(os.Stderr, "    %d sessions created and initialised in %v\n", n, res.createTook.Round(time.Second))
	if res.createTook > time.Duration(timeout)*time.Second-spread {
		return res, fmt.Errorf("creating took %v, longer than the timeout allows", res.createTook)
	}
	if err := b.spreadKeepAlives(ctx, m.restURL, token, ids, spread); err != nil {
		return res, err
	}
	res.rss, _ = m.rss()
	fmt.Fprintf(os.Stderr, "    operator RSS with %d sessions: %.0f MiB; waiting for them to expire\n", n, res.rss)
	for last := -1; ; time.Sleep(time.Second) {
		got := watch.count()
		if got == n {
			break
		}
		if got != last {
			fmt.Fprintf(os.Stderr, "    %d of %d deleted\n", got, n)
			last = got
		}
		if time.Since(start) > time.Duration(timeout)*time.Second+3*spread+time.Minute {
			return res, fmt.Errorf("only %d of %d sessions deleted", got, n)
		}
	}
	_, res.peakRSS = m.rss()
	res.lateness = slices.Sorted(slices.Values(watch.lateness))
	res.early = watch.early
	return res, nil
}

// spreadKeepAlives sends one keep-alive per session, at moments spread evenly over d.
func (b *bench) spreadKeepAlives(ctx context.Context, restURL, token string, ids []string, d time.Duration) error {
	call := restKeepAlive(b.http, restURL, token, ids)
	start := time.Now()
	errs := make(chan error, len(ids))
	sem := make(chan struct{}, 128)
	var wg sync.WaitGroup
	for i := range ids {
		time.Sleep(time.Until(start.Add(d * time.Duration(i) / time.Duration(len(ids)))))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := call(i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return fmt.Errorf("keep-alive: %w", err)
	}
	fmt.Fprintf(os.Stderr, "    %d keep-alives spread over %v (took %v)\n", len(ids), d, time.Since(start).Round(time.Millisecond))
	return nil
}
