package integration

import (
	"bytes"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/contentlib/update-session-operator/internal/testenv"
)

// terminationGrace is the shipped Deployment's terminationGracePeriodSeconds.
const terminationGrace = 30 * time.Second

// TestSIGTERMWithTheManagerBinary runs bin/manager as a pod runs it (its ServiceAccount's token,
// the shipped shutdown delay shortened to 2 s) and sends it SIGTERM while keep-alives are in
// flight: /readyz turns not ready while the REST server still answers, every keep-alive is
// answered 204 or never accepted (no 5xx after it was applied), and the process exits cleanly
// within the grace period.
func TestSIGTERMWithTheManagerBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "manager")
	build := exec.Command("go", "build", "-o", bin, "github.com/contentlib/update-session-operator/cmd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	restAddr, probeAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	var log bytes.Buffer
	manager := exec.Command(bin, "--kubeconfig="+env.OperatorKubeconfig(t),
		"--rest-bind-address="+restAddr, "--health-probe-bind-address="+probeAddr, "--metrics-bind-address=0",
		"--rest-shutdown-delay=2s", "--session-timeout=1h", "--zap-log-level=info")
	manager.Stdout, manager.Stderr = &log, &log
	if err := manager.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- manager.Wait() }()
	t.Cleanup(func() {
		_ = manager.Process.Kill()
		if t.Failed() {
			t.Logf("manager log:\n%s", log.String())
		}
	})
	if status, body := readyz(t, probeAddr, time.Minute, func(s int) bool { return s == http.StatusOK }); status != http.StatusOK {
		t.Fatalf("/readyz never ready: %d %s", status, body)
	}

	ns := env.Namespace(t)
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	us := env.CreateSession(t, testenv.NewSession(ns, "in-flight", 0))
	var notReadyAt atomic.Pointer[time.Time]
	var answered, answeredNotReady, refused atomic.Int64
	stopCallers := inLoops(8, func() {
		sent := time.Now()
		switch status, body := rawKeepAlive("http://"+restAddr, us.Status.ID, token); status {
		case http.StatusNoContent:
			answered.Add(1)
			if at := notReadyAt.Load(); at != nil && sent.After(*at) {
				answeredNotReady.Add(1)
			}
		case 0:
			refused.Add(1)
			time.Sleep(10 * time.Millisecond)
		default:
			t.Errorf("keep-alive around SIGTERM answered %d %s", status, body)
		}
	})
	awaitCount(t, &answered, 20)
	signalled := time.Now()
	if err := manager.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	status, body := readyz(t, probeAddr, terminationGrace, func(s int) bool { return s != http.StatusOK })
	at := time.Now()
	notReadyAt.Store(&at)
	t.Logf("/readyz not ready %v after SIGTERM: %d %s", at.Sub(signalled).Round(time.Millisecond), status, body)

	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("manager exited with %v after SIGTERM", err)
		}
	case <-time.After(terminationGrace):
		t.Fatalf("manager still running %v after SIGTERM", terminationGrace)
	}
	took := time.Since(signalled)
	stopCallers()
	t.Logf("exited %v after SIGTERM; %d keep-alives answered (%d sent after /readyz turned not ready), %d not accepted",
		took.Round(time.Millisecond), answered.Load(), answeredNotReady.Load(), refused.Load())
	if answeredNotReady.Load() == 0 {
		t.Error("no keep-alive was answered after /readyz turned not ready: the listener closed before endpoints could drop the pod")
	}
	if took < 2*time.Second {
		t.Errorf("exited %v after SIGTERM, before the 2 s shutdown delay ended", took)
	}
}
