// Command bench measures the operator as it runs: keep-alive throughput and latency through its
// REST API against raw status patches, expiry lateness for sessions expiring together, memory
// and API-server writes per keep-alive. It starts a local control plane, runs the real
// bin/manager against it, and writes docs/benchmarks.md and its charts. Run it with `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/localcp"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

func main() {
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
	manager := flag.String("manager", "bin/manager", "the manager binary to measure")
	out := flag.String("out", "docs", "where to write benchmarks.md and the charts")
	loadFor := flag.Duration("load-duration", 10*time.Second, "how long each keep-alive load runs")
	sessions := flag.Int("sessions", 1000, "sessions the keep-alive load spreads over")
	expiryRuns := flag.String("expiry", "1000/10s,10000/10s,10000/30s",
		"expiry runs: how many sessions expire within how long a window, comma-separated")
	flag.Parse()
	if err := run(*manager, *out, *loadFor, *sessions, *expiryRuns); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench holds the control plane and the clients the measurements share.
type bench struct {
	cfg    *rest.Config
	client client.Client
	cs     *kubernetes.Clientset
	http   *http.Client
}

func run(managerBin, out string, loadFor time.Duration, sessions int, expiryRuns string) error {
	ctx := context.Background()
	step("starting the control plane (kube-apiserver, etcd)")
	cp, err := localcp.Start()
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	b, err := newBench(cp.Config)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	kubeconfig, logPath := filepath.Join(work, "kubeconfig"), filepath.Join(work, "manager.log")
	if err := cp.WriteAdminKubeconfig(kubeconfig); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "  manager log: %s\n", logPath)
	report := &report{machine: describeMachine(), loadFor: loadFor, sessions: sessions}

	if report.load, err = b.measureLoad(ctx, managerBin, kubeconfig, logPath, loadFor, sessions); err != nil {
		return err
	}
	runs, err := parseExpiryRuns(expiryRuns)
	if err != nil {
		return err
	}
	for i, r := range runs {
		step(fmt.Sprintf("expiry: %d sessions expiring within the same %v", r.n, r.window))
		m, err := startManager(managerBin, kubeconfig, time.Second, logPath)
		if err != nil {
			return err
		}
		res, err := measureExpiry(ctx, b, m, fmt.Sprintf("expiry-%d", i), r.n, r.window)
		m.stop()
		if err != nil {
			return err
		}
		report.expiry = append(report.expiry, res)
	}
	step("writing " + out)
	return report.write(out)
}

func newBench(cfg *rest.Config) (*bench, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // the benchmark's own client must not be the bottleneck
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}
	return &bench{cfg: cfg, client: c, cs: cs, http: &http.Client{Transport: transport}}, nil
}

// measureLoad runs the keep-alive loads: through the REST API without and with coalescing, and
// as raw status patches, at each concurrency.
func (b *bench) measureLoad(ctx context.Context, managerBin, kubeconfig, logPath string, d time.Duration,
	sessions int) ([]loadResult, error) {
	ns, err := b.namespace(ctx, "keepalive")
	if err != nil {
		return nil, err
	}
	token, err := b.uploader(ctx, ns)
	if err != nil {
		return nil, err
	}
	var results []loadResult
	var names, ids []string
	for _, mode := range []struct {
		name       string
		coalescing time.Duration
	}{{"REST, no coalescing", 0}, {"REST, coalescing", time.Second}} {
		step("keep-alive load: " + mode.name)
		m, err := startManager(managerBin, kubeconfig, mode.coalescing, logPath)
		if err != nil {
			return nil, err
		}
		if names == nil {
			if names, ids, err = b.createSessions(ctx, ns, sessions, 3600); err != nil {
				m.stop()
				return nil, err
			}
		}
		for _, c := range concurrencies {
			conflicts := m.metric("updatesession_rest_write_conflicts_total")
			results = append(results, b.measured(mode.name, c, d, sessions, restKeepAlive(b.http, m.restURL, token, ids)))
			fmt.Fprintf(os.Stderr, "    write conflicts: %.0f\n", m.metric("updatesession_rest_write_conflicts_total")-conflicts)
		}
		m.stop()
	}
	step("keep-alive load: raw status PATCH to the API server")
	for _, c := range concurrencies {
		results = append(results, b.measured(modeRaw, c, d, sessions, rawPatch(b.client, ns, names)))
	}
	return results, nil
}

var concurrencies = []int{16, 64, 256}

const modeRaw = "raw PATCH"

// measured runs a load and counts the status writes the API server served meanwhile.
func (b *bench) measured(mode string, c int, d time.Duration, sessions int, call func(int) error) loadResult {
	before := b.statusWrites()
	res := runLoad(mode, c, d, sessions, call)
	res.writes = b.statusWrites() - before
	fmt.Fprintf(os.Stderr, "  %-20s c=%-3d %8.0f/s  p50 %-9v p99 %-9v failed %d  writes/call %.2f\n",
		mode, c, res.throughput(), res.p50.Round(time.Microsecond), res.p99.Round(time.Microsecond), res.failed,
		res.writesPerCall())
	return res
}

// statusWrites is the API server's count of PATCH and PUT calls on updatesessions/status.
func (b *bench) statusWrites() float64 {
	data, err := b.cs.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `resource="updatesessions"`) ||
			!strings.Contains(line, `subresource="status"`) ||
			(!strings.Contains(line, `verb="PATCH"`) && !strings.Contains(line, `verb="PUT"`)) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
			total += v
		}
	}
	return total
}

// namespace creates a namespace for one measurement.
func (b *bench) namespace(ctx context.Context, name string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	return name, b.client.Create(ctx, ns)
}

// uploader creates a service account allowed to keep sessions alive in ns and returns a token.
func (b *bench) uploader(ctx context.Context, ns string) (string, error) {
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "uploader"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "uploader"}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"updatesessions"},
			Verbs: []string{"get", "list", "create", "update", "delete"},
		}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "uploader"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "uploader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "uploader"}}},
	}
	for _, obj := range objs {
		if err := b.client.Create(ctx, obj); err != nil {
			return "", err
		}
	}
	tr, err := b.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "uploader", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](7200)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}

// createSessions creates n sessions with the given timeout, 64 at a time, and waits until the
// operator has initialised them all; it returns their names and ids.
func (b *bench) createSessions(ctx context.Context, ns string, n int, timeoutSeconds int32) ([]string, []string, error) {
	names := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range names {
		names[i] = fmt.Sprintf("s-%05d", i)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			us := &v1alpha1.UpdateSession{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names[i]},
				Spec: v1alpha1.UpdateSessionSpec{LibraryItemID: "item-" + names[i],
					ExpirationTimeoutSeconds: ptr.To(timeoutSeconds)},
			}
			if err := b.client.Create(ctx, us); err != nil {
				errs <- err
			}
		})
		if (i+1)%2000 == 0 {
			fmt.Fprintf(os.Stderr, "    created %d of %d\n", i+1, n)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return nil, nil, err
	}
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		var list v1alpha1.UpdateSessionList
		if err := b.client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, nil, err
		}
		byName := map[string]string{}
		for _, us := range list.Items {
			if us.Status.ID != "" {
				byName[us.Name] = us.Status.ID
			}
		}
		if len(byName) == n {
			ids := make([]string, n)
			for i, name := range names {
				ids[i] = byName[name]
			}
			return names, ids, nil
		}
		fmt.Fprintf(os.Stderr, "    %d of %d initialised\n", len(byName), n)
	}
	return nil, nil, fmt.Errorf("sessions not initialised within 5 minutes")
}

type expiryRun struct {
	n      int
	window time.Duration
}

// parseExpiryRuns reads "1000/10s,10000/30s".
func parseExpiryRuns(s string) ([]expiryRun, error) {
	var runs []expiryRun
	for _, f := range strings.Split(s, ",") {
		count, window, ok := strings.Cut(strings.TrimSpace(f), "/")
		var r expiryRun
		_, err := fmt.Sscan(count, &r.n)
		if err == nil && ok {
			r.window, err = time.ParseDuration(window)
		}
		if err != nil || !ok || r.n <= 0 || r.window <= 0 {
			return nil, fmt.Errorf("expiry run %q: want <sessions>/<window>, like 10000/10s", f)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

func step(s string) { fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), s) }
