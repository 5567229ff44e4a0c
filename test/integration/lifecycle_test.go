package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestReadinessNamesCacheAndREST: /readyz is ready once the cache has synced and the REST
// server serves, and says so for each.
func TestReadinessNamesCacheAndREST(t *testing.T) {
	ns := env.Namespace(t)
	probeAddr := testenv.FreeAddr(t)
	env.StartOperatorWith(t, ns, coalescingOptions(), nil, func(o *ctrl.Options) { o.HealthProbeBindAddress = probeAddr })
	status, body := readyz(t, probeAddr, 30*time.Second, func(status int) bool { return status == http.StatusOK })
	if status != http.StatusOK {
		t.Fatalf("/readyz never ready: %d %s", status, body)
	}
	for _, check := range []string{"[+]cache ok", "[+]rest ok"} {
		if !strings.Contains(body, check) {
			t.Errorf("/readyz lacks %q:\n%s", check, body)
		}
	}
}

// TestNotReadyBeforeCacheSync holds back the operator's first list of sessions, so that its
// cache cannot sync: meanwhile /readyz names both checks as failing and the REST port does not
// listen. Once the list goes through, the replica becomes ready and serves.
func TestNotReadyBeforeCacheSync(t *testing.T) {
	ns := env.Namespace(t)
	release := make(chan struct{})
	cfg := rest.CopyConfig(env.CP.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return heldLists{rt, release} }
	probeAddr := testenv.FreeAddr(t)
	opts := coalescingOptions()
	opts.RESTAddr = testenv.FreeAddr(t)
	env.LaunchOperator(t, ns, opts, cfg, func(o *ctrl.Options) { o.HealthProbeBindAddress = probeAddr })

	status, body := readyz(t, probeAddr, 30*time.Second, func(status int) bool { return status != 0 })
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if status != http.StatusInternalServerError || !strings.Contains(body, "[-]cache failed") ||
			!strings.Contains(body, "[-]rest failed") {
			t.Fatalf("/readyz before the cache synced: %d\n%s", status, body)
		}
		if conn, err := net.Dial("tcp", opts.RESTAddr); err == nil {
			_ = conn.Close()
			t.Fatal("the REST server listens before the cache has synced")
		}
		status, body = readyz(t, probeAddr, 5*time.Second, func(status int) bool { return status != 0 })
	}
	close(release)
	status, body = readyz(t, probeAddr, time.Minute, func(status int) bool { return status == http.StatusOK })
	if status != http.StatusOK {
		t.Fatalf("/readyz after the cache could sync: %d\n%s", status, body)
	}
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	us := env.CreateSession(t, testenv.NewSession(ns, "after-sync", 0))
	if status, body := rawKeepAlive("http://"+opts.RESTAddr, us.Status.ID, token); status != http.StatusNoContent {
		t.Fatalf("keep-alive once ready: %d %s", status, body)
	}
}

// heldLists holds every request for sessions until release is closed: the cache's first LIST,
// or the watch that streams the initial list in its place.
type heldLists struct {
	next    http.RoundTripper
	release <-chan struct{}
}

func (h heldLists) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/updatesessions") {
		select {
		case <-h.release:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return h.next.RoundTrip(req)
}

// readyz polls /readyz?verbose until done accepts its status (0: no answer) or timeout passes,
// and returns the last status and body.
func readyz(t *testing.T, addr string, timeout time.Duration, done func(int) bool) (int, string) {
	t.Helper()
	var status int
	var body string
	_ = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		status, body = 0, ""
		resp, err := http.Get("http://" + addr + "/readyz?verbose")
		if err == nil {
			defer func() { _ = resp.Body.Close() }()
			data, _ := io.ReadAll(resp.Body)
			status, body = resp.StatusCode, string(data)
		}
		return done(status), nil
	})
	return status, body
}

// TestStopDuringKeepAlives stops the operator while keep-alives are in flight: each is either
// answered 204 or never accepted (a connection error); none gets a 5xx because the shutdown
// cancelled its API-server calls.
func TestStopDuringKeepAlives(t *testing.T) {
	ns := env.Namespace(t)
	op := env.StartOperator(t, ns, operator.Options{
		Policy: session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour}, Concurrency: 4,
	})
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	us := env.CreateSession(t, testenv.NewSession(ns, "in-flight", 0))
	var answered, refusedConn atomic.Int64
	var progress atomic.Int64
	stopCallers := inLoops(8, func() {
		status, body := rawKeepAliveBody(op.RESTURL, us.Status.ID, token,
			`{"client_progress": `+strconv.FormatInt(progress.Add(1)%100, 10)+`}`)
		switch {
		case status == http.StatusNoContent:
			answered.Add(1)
		case status == 0:
			refusedConn.Add(1)
		case status == http.StatusBadRequest && strings.Contains(body, "INVALID_ARGUMENT"):
			// progress raced below another goroutine's: a correct refusal
		default:
			t.Errorf("keep-alive during shutdown answered %d %s", status, body)
		}
	})
	// Stop once keep-alives are flowing, so that some are in flight when the stop begins.
	awaitCount(t, &answered, 5)
	op.Stop()
	stopCallers()
	t.Logf("%d keep-alives answered, %d not accepted after the stop", answered.Load(), refusedConn.Load())
	if answered.Load() == 0 {
		t.Fatal("no keep-alive was answered before the stop")
	}
}

// inLoops runs call in a loop from n goroutines, as clients that keep calling; stop ends the
// loops and waits for the calls in flight.
func inLoops(n int, call func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				call()
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

// awaitCount waits up to a minute for counter to reach n: calls are flowing.
func awaitCount(t *testing.T, counter *atomic.Int64, n int64) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, time.Minute, true,
		func(context.Context) (bool, error) { return counter.Load() >= n, nil }); err != nil {
		t.Fatal("keep-alives never flowed")
	}
}
