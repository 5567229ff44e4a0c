package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// loadResult is one load: how many calls succeeded per second and how long they took. A load
// runs in slices (see measurePair); the result adds them up.
type loadResult struct {
	mode        string
	concurrency int
	ok, failed  int
	// duration is the time the load's slices ran, from their start until their last call returned.
	duration time.Duration
	p50, p99 time.Duration
	// writes is the number of status writes the API server served during the load.
	writes float64
	// cpu is the CPU time the server, the control plane and the load generator used.
	cpu cpuUsage
	// costs is where the server's CPU went per call (coalesced and vcsim loads), or nil.
	costs *callCosts
	// rounds are the rates of the load's slices, in the order they ran.
	rounds []float64
	// latencies are the successful calls' latencies, until finish sorts them into p50 and p99.
	latencies []time.Duration
	firstErr  error
}

// throughput is the successful calls per second of the load.
func (r loadResult) throughput() float64 { return float64(r.ok) / r.duration.Seconds() }

// serverCPUPerCall is the server process's CPU time per successful call: the cost of the hot
// path itself, whatever else shares the machine.
func (r loadResult) serverCPUPerCall() time.Duration {
	if r.ok == 0 {
		return 0
	}
	return time.Duration(r.cpu.server / float64(r.ok) * float64(time.Second))
}

// cores is CPU seconds used over the run, per second.
func (r loadResult) cores(seconds float64) float64 { return seconds / r.duration.Seconds() }

// writesPerCall is the status writes the API server served per successful call; 0 without one.
func (r loadResult) writesPerCall() float64 {
	if r.ok == 0 {
		return 0
	}
	return r.writes / float64(r.ok)
}

// writeRate is the status writes the API server served per second of the load.
func (r loadResult) writeRate() float64 { return r.writes / r.duration.Seconds() }

// add adds a slice of the load.
func (r *loadResult) add(s loadResult) {
	r.ok, r.failed, r.duration = r.ok+s.ok, r.failed+s.failed, r.duration+s.duration
	r.writes, r.cpu = r.writes+s.writes, r.cpu.add(s.cpu)
	r.latencies = append(r.latencies, s.latencies...)
	r.rounds = append(r.rounds, s.throughput())
	if r.firstErr == nil {
		r.firstErr = s.firstErr
	}
}

// finish computes the percentiles once every slice is added.
func (r *loadResult) finish() {
	slices.Sort(r.latencies)
	r.p50, r.p99 = percentile(r.latencies, 0.50), percentile(r.latencies, 0.99)
	r.latencies = nil
	if r.firstErr != nil {
		fmt.Fprintf(os.Stderr, "    %s c=%d, first error: %v\n", r.mode, r.concurrency, r.firstErr)
	}
}

// runSlice runs call from concurrency goroutines for d: goroutine w calls call(w). Each is a
// client keeping its own session alive in a loop, as an uploader does after each chunk. A call
// still running at d counts: the slice lasts until the last one returns.
func runSlice(concurrency int, d time.Duration, call func(i int) error) loadResult {
	var ok, failed atomic.Int64
	latencies := make([][]time.Duration, concurrency)
	var firstErr atomic.Pointer[error]
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				began := time.Now()
				if err := call(w); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				latencies[w] = append(latencies[w], time.Since(began))
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	res := loadResult{concurrency: concurrency, ok: int(ok.Load()), failed: int(failed.Load()),
		duration: time.Since(start), latencies: slices.Concat(latencies...)}
	if err := firstErr.Load(); err != nil {
		res.firstErr = *err
	}
	return res
}

// percentile is the p-th quantile (0..1) of sorted latencies, 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// keepAlive returns a call that keeps sessions alive through a vSphere-style REST API, the
// operator's or vcsim's, as govmomi does: the /rest form, with the session id of a login in
// its header. call(i) keeps ids[i] alive (modulo their number).
func keepAlive(httpClient *http.Client, base, sessionID string, ids []string) func(int) error {
	return func(i int) error {
		status, err := postWithSession(httpClient,
			base+"/rest/com/vmware/content/library/item/update-session/id:"+ids[i%len(ids)]+"?~action=keep-alive", sessionID)
		if err == nil && status != http.StatusOK && status != http.StatusNoContent {
			err = fmt.Errorf("keep-alive answered %d", status)
		}
		return err
	}
}

// postWithSession POSTs to url with no body and the session id of a login in its header,
// drains the answer, and returns its status.
func postWithSession(httpClient *http.Client, url, sessionID string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("vmware-api-session-id", sessionID)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// logIn logs in to a vSphere-style REST API at base with a bearer token, as govmomi does for
// the operator, and returns the session id it answers.
func logIn(httpClient *http.Client, base, token string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/rest/com/vmware/cis/session", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct{ Value string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login answered %d (%v)", resp.StatusCode, err)
	}
	return body.Value, nil
}

// rawPatch returns a call that does what a client without the operator would do: patch the
// session's status.lastActivity straight at the API server. call(i) patches names[i] (modulo
// their number).
func rawPatch(c client.Client, namespace string, names []string) func(int) error {
	return func(i int) error {
		now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		patch := client.RawPatch(types.MergePatchType, []byte(`{"status":{"lastActivity":"`+now+`"}}`))
		us := &v1alpha1.UpdateSession{}
		us.Namespace, us.Name = namespace, names[i%len(names)]
		return c.Status().Patch(context.Background(), us, patch)
	}
}
