package integration

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
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
	var body string
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		resp, err := http.Get("http://" + probeAddr + "/readyz?verbose")
		if err != nil {
			return false, nil
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(resp.Body)
		body = string(data)
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("/readyz never ready: %s", body)
	}
	for _, check := range []string{"[+]cache ok", "[+]rest ok"} {
		if !strings.Contains(body, check) {
			t.Errorf("/readyz lacks %q:\n%s", check, body)
		}
	}
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
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var progress atomic.Int64
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
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
			}
		})
	}
	// Stop once keep-alives are flowing, so that some are in flight when the stop begins.
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, time.Minute, true,
		func(context.Context) (bool, error) { return answered.Load() >= 5, nil }); err != nil {
		t.Fatal("keep-alives never flowed")
	}
	op.Stop()
	close(stop)
	wg.Wait()
	t.Logf("%d keep-alives answered, %d not accepted after the stop", answered.Load(), refusedConn.Load())
	if answered.Load() == 0 {
		t.Fatal("no keep-alive was answered before the stop")
	}
}
