// Command bench measures the operator as it runs, each figure beside its anchor in the same run:
// keep-alives through its REST API against govmomi's simulator (vcsim) and raw status patches,
// floods of garbage tokens and of namespaces beside real clients, API-server requests per
// keep-alive and memory with 10,000 sessions, uploads and downloads against plain Go servers,
// and expiry under a burst against raw DELETEs. It starts a local control plane, runs the real
// bin/manager against it, and writes docs/benchmarks.md and its charts.
// Run it with `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

func main() {
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
	var o options
	flag.StringVar(&o.manager, "manager", "bin/manager", "the manager binary to measure")
	flag.StringVar(&o.out, "out", "docs", "where to write benchmarks.md and the charts")
	flag.DurationVar(&o.loadFor, "load-duration", 10*time.Second, "how long each keep-alive load runs")
	flag.IntVar(&o.sessions, "sessions", 1000, "sessions the keep-alive loads spread over")
	flag.IntVar(&o.scale, "scale", 10000, "sessions of the scale phase: requests per keep-alive, memory, the expiry burst")
	flag.DurationVar(&o.burstWindow, "burst-window", 10*time.Second, "the scale phase's sessions all expire within this window")
	flag.IntVar(&o.quiet, "quiet", 1000, "sessions of the quiet expiry run, expiring within 10s")
	flag.DurationVar(&o.floodFor, "flood-duration", 150*time.Second,
		"how long each flood (tokens, namespaces) runs; the default outlasts the operator's cache of accepted tokens")
	flag.StringVar(&o.phases, "phases", allPhases,
		"the phases to run; docs are written only when "+allPhases+" run (load: keep-alive loads; "+
			"jsonrpc: keep-alives over JSON-RPC beside the /api form; flood: token and namespace floods; "+
			"scale: requests per keep-alive, memory, a raw DELETE and the expiry burst; expiry: a raw DELETE and quiet expiry; "+
			"upload: uploads beside a plain Go server and vcsim, and the manager's memory during a large one; "+
			"download: a download and ranged readers beside a plain Go file server, and the manager's memory meanwhile; "+
			"calibrate, not part of a full run: vcsim paired with a second vcsim, the pairing's own error)")
	serveSim := flag.Bool("serve-vcsim", false, "serve govmomi's simulator and print its URL (the benchmark runs itself so)")
	anchorDir := flag.String("serve-anchor", "", "serve the plain Go upload server, writing into this folder, and print its URL "+
		"(the benchmark runs itself so)")
	anchorSync := flag.Bool("anchor-fsync", true, "with -serve-anchor: fsync each file before answering")
	servedFile := flag.String("serve-file", "", "serve this file with a plain Go file server and print its URL "+
		"(the benchmark runs itself so)")
	servedCert := flag.String("serve-cert-dir", "", "with -serve-file: serve TLS with this folder's tls.crt and tls.key")
	flag.Parse()
	if *servedFile != "" {
		if err := serveFile(*servedFile, *servedCert); err != nil {
			fmt.Fprintln(os.Stderr, "file anchor:", err)
			os.Exit(1)
		}
		return
	}
	if *anchorDir != "" {
		if err := serveAnchor(*anchorDir, *anchorSync); err != nil {
			fmt.Fprintln(os.Stderr, "anchor:", err)
			os.Exit(1)
		}
		return
	}
	if *serveSim {
		if err := serveVcsim(); err != nil {
			fmt.Fprintln(os.Stderr, "vcsim:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the benchmark's flags.
type options struct {
	manager, out      string
	loadFor, floodFor time.Duration
	sessions          int
	scale, quiet      int
	burstWindow       time.Duration
	phases            string
}

// bench holds the control plane and the clients the measurements share.
type bench struct {
	cfg        *rest.Config
	client     client.Client
	cs         *kubernetes.Clientset
	http       *http.Client
	kubeconfig string
	logPath    string
	managerBin string
	// work holds the manager's log and CPU profiles.
	work string
}

func run(o options) error {
	ctx := context.Background()
	started := time.Now()
	phases := strings.Split(o.phases, ",")
	if unknown := slices.DeleteFunc(slices.Clone(phases), isPhase); len(unknown) > 0 {
		return fmt.Errorf("unknown phases %v (the phases: %s,%s)", unknown, calibratePhase, allPhases)
	}
	step("starting the control plane (kube-apiserver, etcd)")
	cp, err := localcp.Start()
	if err != nil {
		return err
	}
	// Once: a signal's stop and this one's, which a phase failing meanwhile reaches, wait for
	// each other.
	stopControlPlane := sync.OnceValue(cp.Stop)
	defer func() { _ = stopControlPlane() }()
	stopOnSignal(stopControlPlane)
	b, err := newBench(cp.Config)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	b.managerBin, b.work = o.manager, work
	b.kubeconfig, b.logPath = filepath.Join(work, "kubeconfig"), filepath.Join(work, "manager.log")
	if err := cp.WriteAdminKubeconfig(b.kubeconfig); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "  manager log: %s\n", b.logPath)
	r := &report{machine: describeMachine(), opts: o}
	full := includesAll(phases)
	for _, phase := range []struct {
		name string
		run  func() error
	}{
		{calibratePhase, func() error { return b.measureCalibration(ctx, o.loadFor, o.sessions) }},
		{"load", func() (err error) { r.load, err = b.measureLoad(ctx, o.loadFor, o.sessions); return err }},
		{"jsonrpc", func() (err error) { r.jsonrpc, err = b.measureJSONRPC(ctx, o.loadFor, o.sessions); return err }},
		{"flood", func() (err error) { r.floods, err = b.measureFloods(ctx, o.floodFor); return err }},
		{"scale", func() (err error) { r.scale, err = b.measureScale(ctx, o.scale, o.burstWindow); return err }},
		{"upload", func() (err error) { r.uploads, err = b.measureUploads(ctx); return err }},
		{"download", func() (err error) { r.downloads, err = b.measureDownloads(ctx); return err }},
		{"expiry", func() (err error) {
			if r.rawDeleteAfter, err = b.measureRawDelete(ctx, "raw-delete-after", o.scale, nil); err != nil {
				return err
			}
			r.quiet, err = b.measureQuietExpiry(ctx, o.quiet)
			return err
		}},
	} {
		if !slices.Contains(phases, phase.name) {
			continue
		}
		if err := phase.run(); err != nil {
			return err
		}
	}
	if !full {
		step("not all phases ran: " + o.out + " is left as it is")
		return nil
	}
	r.took = time.Since(started)
	step("writing " + o.out)
	return r.write(o.out)
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

// startManager runs the manager with its default flags and extra.
func (b *bench) startManager(extra ...string) (*managerProcess, error) {
	return startManager(b.managerBin, b.kubeconfig, b.logPath, extra...)
}

// measureLoad runs the keep-alive loads at each concurrency: through the REST API without
// coalescing, each load paired with the same load of raw status patches, then with coalescing,
// each paired with the same load against vcsim; the two loads of a pair take turns (measurePair),
// so that each ratio compares loads a few seconds apart on this shared machine.
func (b *bench) measureLoad(ctx context.Context, d time.Duration, sessions int) ([]loadResult, error) {
	ns, err := b.namespace(ctx, "keepalive")
	if err != nil {
		return nil, err
	}
	token, err := b.uploader(ctx, ns)
	if err != nil {
		return nil, err
	}
	step("keep-alive load: govmomi's simulator (vcsim) starts")
	sim, err := startVcsim(ctx, sessions)
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	var results []loadResult
	var names, ids []string
	for _, mode := range []struct {
		name, file string
		// flags are the manager's flags beside its defaults.
		flags []string
		// anchor is the load each of this mode's loads is compared with.
		anchor string
	}{
		{modeUncoalesced, "uncoalesced", []string{"--keepalive-coalesce-window=0"}, modeRaw},
		{modeCoalesced, "coalesced", nil, modeVcsim},
	} {
		step(fmt.Sprintf("keep-alive load: %s, each paired with %s", mode.name, mode.anchor))
		m, err := b.startManager(mode.flags...)
		if err != nil {
			return nil, err
		}
		if names == nil {
			if names, ids, err = b.createSessions(ctx, ns, sessions); err != nil {
				m.stop()
				return nil, err
			}
		}
		sessionID, err := logIn(b.http, m.restURL, token)
		if err != nil {
			m.stop()
			return nil, err
		}
		half := len(ids) / 2
		for _, c := range concurrencies {
			// The operator's loads keep the first half of the sessions alive, raw PATCH the other half:
			// the two take turns, and a side must not find the other's writes not yet in its cache
			// (a conflict and a second write, which a client of its own never meets).
			server := side{mode: mode.name, serverPID: m.cmd.Process.Pid, call: keepAlive(b.http, m.restURL, sessionID, ids[:half]),
				profiles: b.profiles(mode.file, c, b.apiServer(), servedProfile("manager", m.pprofURL))}
			if mode.anchor == modeRaw {
				res, anchor := b.measurePair(c, d, sliceLength, server, side{mode: modeRaw, call: rawPatch(b.client, ns, names[half:]),
					profiles: b.profiles("raw", c, b.apiServer())})
				results = append(results, res, anchor)
				continue
			}
			server.catchUp = coalescedCatchUp()
			res, anchor := b.measurePair(c, d, coalescedSlice(), server, side{mode: modeVcsim, serverPID: sim.cmd.Process.Pid,
				call:     keepAlive(b.http, sim.base(), sim.sessionID, sim.ids),
				profiles: b.profiles("vcsim", c, b.apiServer(), servedProfile("vcsim", sim.pprofURL))})
			results = append(results, withCosts(res, b.profilePath(mode.file, c, "manager")),
				withCosts(anchor, b.profilePath("vcsim", c, "vcsim")))
		}
		m.stop()
	}
	// The report lists the loads by mode, then by concurrency.
	order := []string{modeUncoalesced, modeCoalesced, modeVcsim, modeRaw}
	slices.SortStableFunc(results, func(a, b loadResult) int {
		return slices.Index(order, a.mode) - slices.Index(order, b.mode)
	})
	return results, nil
}

var concurrencies = []int{16, 64, 256}

// allPhases are the phases of a full run, in order.
const allPhases = "load,jsonrpc,flood,scale,upload,download,expiry"

// calibratePhase pairs vcsim with a second vcsim (measureCalibration); not part of a full run.
const calibratePhase = "calibrate"

// fullRun lists allPhases.
var fullRun = strings.Split(allPhases, ",")

// isPhase reports whether name is a phase: one of a full run's, or calibrate.
func isPhase(name string) bool { return name == calibratePhase || slices.Contains(fullRun, name) }

// includesAll reports whether phases include every phase of a full run.
func includesAll(phases []string) bool {
	return !slices.ContainsFunc(fullRun, func(p string) bool { return !slices.Contains(phases, p) })
}

// The keep-alive load modes.
const (
	modeUncoalesced = "REST, no coalescing"
	modeCoalesced   = "REST, coalescing"
	modeVcsim       = "vcsim"
	modeRaw         = "raw PATCH"
)

// warmUp is how long each load runs before it is measured: the clients' connections are open,
// the server's caches (tokens, decisions) hold the callers, and a manager just started has done
// its first reconciles, for every server alike.
const warmUp = 2 * time.Second

// apiRequests is the API server's count of the requests it served that match.
func (b *bench) apiRequests(match func(labels map[string]string) bool) float64 {
	n, err := testenv.CountAPIRequests(context.Background(), b.cfg, match)
	if err != nil {
		fmt.Fprintln(os.Stderr, "   ", err)
	}
	return n
}

// sessionsResource is the API resource of UpdateSessions.
const sessionsResource = "updatesessions"

// isStatusWrite: a PATCH or PUT of updatesessions/status.
func isStatusWrite(l map[string]string) bool {
	return l["resource"] == sessionsResource && l["subresource"] == "status" && (l["verb"] == "PATCH" || l["verb"] == "PUT")
}

// namespace creates a namespace for one measurement.
func (b *bench) namespace(ctx context.Context, name string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	return name, b.client.Create(ctx, ns)
}

// uploader creates the service account "uploader", allowed to keep sessions alive in ns, and
// returns a token of it.
func (b *bench) uploader(ctx context.Context, ns string) (string, error) {
	return b.account(ctx, ns, "uploader")
}

// account creates a service account allowed to keep sessions alive in ns and returns a token.
func (b *bench) account(ctx context.Context, ns, name string) (string, error) {
	return b.accountWith(ctx, ns, name, rbacv1.PolicyRule{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{sessionsResource},
		Verbs: []string{"get", "list", "create", "update", "delete"},
	})
}

// accountWith creates a service account granted rules in ns and returns a token of it.
func (b *bench) accountWith(ctx context.Context, ns, name string, rules ...rbacv1.PolicyRule) (string, error) {
	objs := []client.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}},
	}
	for _, obj := range objs {
		if err := b.client.Create(ctx, obj); err != nil {
			return "", err
		}
	}
	return b.serviceAccount(ctx, ns, name)
}

// serviceAccount creates a service account with no rights of its own, as a pod's default one,
// and returns a token of it from the TokenRequest API.
func (b *bench) serviceAccount(ctx context.Context, ns, name string) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := b.client.Create(ctx, sa); err != nil {
		return "", err
	}
	tr, err := b.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](7200)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}

// sessionTimeoutSeconds is the timeout of every session the bench creates: long enough that none
// expires unless a phase shortens it. The manager's default coalescing window is 1% of it,
// capped at session.DefaultMaxCoalesce.
const sessionTimeoutSeconds int32 = 3600

// coalesceWindow is the manager's default coalescing window for the bench's sessions.
func coalesceWindow() time.Duration {
	us := &v1alpha1.UpdateSession{Spec: v1alpha1.UpdateSessionSpec{ExpirationTimeoutSeconds: ptr.To(sessionTimeoutSeconds)}}
	return session.Policy{MaxCoalesce: session.DefaultMaxCoalesce}.CoalesceWindow(us)
}

// createSessions creates n sessions, 64 at a time, and waits until the operator has initialised
// them all; it returns their names and ids.
func (b *bench) createSessions(ctx context.Context, ns string, n int) ([]string, []string, error) {
	return b.createSessionsExpiring(ctx, ns, n, sessionTimeoutSeconds)
}

// createSessionsExpiring is createSessions with sessions of the given timeout.
func (b *bench) createSessionsExpiring(ctx context.Context, ns string, n int, timeoutSeconds int32) ([]string, []string, error) {
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

func step(s string) { fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), s) }
