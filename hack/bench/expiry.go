package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/testenv"
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
	w := &deletionWatch{}
	return w, testenv.OnDeletion(ctx, b.cfg, namespace, func(us *v1alpha1.UpdateSession, at time.Time) {
		if us.Status.ExpirationTime == nil {
			return
		}
		late := at.Sub(us.Status.ExpirationTime.Time)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.lateness = append(w.lateness, late)
		if late < 0 {
			w.early++
		}
	})
}

func (w *deletionWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.lateness)
}

// measureExpiry makes n sessions expire within the same spread, and measures how late each one
// is deleted. The sessions are created with a long timeout and kept alive once each through
// the REST API, so that their lastActivity times are as scattered as real clients make them.
// Then each session's timeout is set so that lastActivity + timeout lands at its own moment,
// spread evenly over the window. The operator's memory is read when all n exist.
func measureExpiry(ctx context.Context, b *bench, m *managerProcess, namespace string, n int,
	spread time.Duration) (expiryResult, error) {
	ns, err := b.namespace(ctx, namespace)
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
	start := time.Now()
	names, ids, err := b.createSessions(ctx, ns, n, 3600)
	if err != nil {
		return expiryResult{}, err
	}
	res := expiryResult{n: n, spread: spread, createTook: time.Since(start)}
	fmt.Fprintf(os.Stderr, "    %d sessions created and initialised in %v\n", n, res.createTook.Round(time.Second))
	if err := b.keepAliveAll(ctx, m.restURL, token, ids); err != nil {
		return res, err
	}
	// Leave time to set every timeout before the first deadline.
	window := time.Now().Add(30*time.Second + time.Duration(n)*5*time.Millisecond)
	if err := b.scheduleExpiry(ctx, ns, names, window, spread); err != nil {
		return res, err
	}
	res.rss, _ = m.rss()
	fmt.Fprintf(os.Stderr, "    operator RSS with %d sessions: %.0f MiB; they expire from %s to %s\n", n, res.rss,
		window.Format("15:04:05"), window.Add(spread).Format("15:04:05"))
	for last := -1; ; time.Sleep(time.Second) {
		got := watch.count()
		if got == n {
			break
		}
		if got != last {
			fmt.Fprintf(os.Stderr, "    %d of %d deleted\n", got, n)
			last = got
		}
		if time.Now().After(window.Add(spread + 2*time.Minute)) {
			return res, fmt.Errorf("only %d of %d sessions deleted", got, n)
		}
	}
	_, res.peakRSS = m.rss()
	res.lateness = slices.Sorted(slices.Values(watch.lateness))
	res.early = watch.early
	return res, nil
}

// keepAliveAll keeps every session alive once through the REST API, 64 at a time.
func (b *bench) keepAliveAll(ctx context.Context, restURL, token string, ids []string) error {
	call := restKeepAlive(b.http, restURL, token, ids)
	start := time.Now()
	errs := make(chan error, len(ids))
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range ids {
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
	errs := make(chan error, len(names))
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i, name := range names {
		moment := from.Add(spread * time.Duration(i) / time.Duration(len(names)))
		timeout := int32(moment.Sub(last[name]) / time.Second)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			us := &v1alpha1.UpdateSession{}
			us.Namespace, us.Name = ns, name
			patch := client.RawPatch(types.MergePatchType,
				[]byte(fmt.Sprintf(`{"spec":{"expirationTimeoutSeconds":%d}}`, timeout)))
			if err := b.client.Patch(ctx, us, patch); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return fmt.Errorf("setting a timeout: %w", err)
	}
	fmt.Fprintf(os.Stderr, "    timeouts set in %v\n", time.Since(start).Round(time.Millisecond))
	if time.Now().After(from) {
		return fmt.Errorf("setting the timeouts took until after the first deadline")
	}
	return nil
}
