// Command manager runs the update-session operator: the UpdateSession reconciler and the
// vSphere-style REST server, against a cluster or, with --local-control-plane, against an
// embedded kube-apiserver and etcd.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/localcp"
	"github.com/contentlib/update-session-operator/internal/memlimit"
	"github.com/contentlib/update-session-operator/internal/operator"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

// init fills the manager's scheme: the built-in types and UpdateSession.
func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
}

// config is what the manager's flags set: the operator's options, and what configures the
// manager itself (its listeners, its API-server client, the control plane it runs against).
type config struct {
	operator                                operator.Options
	metricsAddr, probeAddr, pprofAddr       string
	leaderElect, secureMetrics, enableHTTP2 bool
	qps                                     float64
	burst                                   int
	localControlPlane                       bool
	localKubeconfig                         string
}

// bindFlags defines the manager's flags on fs, returning where their values go.
func bindFlags(fs *flag.FlagSet) (*config, *zap.Options) {
	c := &config{}
	c.operator.BindFlags(fs)
	fs.StringVar(&c.metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	fs.StringVar(&c.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to; 0 disables it.")
	fs.StringVar(&c.pprofAddr, "pprof-bind-address", "0", "The address Go's pprof profiles are served on "+
		"(/debug/pprof/), for profiling the hot path; 0 disables it. Keep it off the network: profiles need no credentials.")
	fs.BoolVar(&c.leaderElect, "leader-elect", false, "Enable leader election for the reconciler, "+
		"so that one replica expires sessions while every replica serves the REST API.")
	fs.BoolVar(&c.secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with authentication and authorization.")
	fs.BoolVar(&c.enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server.")
	fs.Float64Var(&c.qps, "kube-api-qps", 2000, "Client-side rate limit of requests to the API server (queries per second).")
	fs.IntVar(&c.burst, "kube-api-burst", 4000, "Client-side burst of requests to the API server.")
	fs.BoolVar(&c.localControlPlane, "local-control-plane", false,
		"Start an embedded kube-apiserver and etcd (the envtest binaries), install the CRD and run against it.")
	fs.StringVar(&c.localKubeconfig, "local-kubeconfig", "",
		"With --local-control-plane: write an admin kubeconfig for it to this path.")
	// Production logging unless --zap-devel: JSON at info level. Development mode (kubebuilder's
	// scaffold default) logs every REST call at debug level, thousands of lines a second from a
	// busy replica, and a stack trace with every warning. make run asks for it.
	opts := &zap.Options{}
	opts.BindFlags(fs)
	return c, opts
}

// validate refuses flags out of their range: the operator's as given (see Options.Validate),
// and a kubeconfig to write without a control plane to write it for.
func (c *config) validate() error {
	if err := c.operator.Validate(); err != nil {
		return err
	}
	if c.localKubeconfig != "" && !c.localControlPlane {
		return errors.New("--local-kubeconfig needs --local-control-plane")
	}
	return nil
}

// main parses and validates the flags, sets the Go memory limit and runs the manager.
func main() {
	c, zapOpts := bindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(zapOpts)))
	if err := c.validate(); err != nil {
		setupLog.Error(err, "Invalid flags")
		os.Exit(2)
	}
	if limit, err := memlimit.FromCgroup("/sys/fs/cgroup"); err != nil {
		setupLog.Error(err, "Reading the container's memory limit; the Go runtime keeps no memory limit")
	} else if limit > 0 {
		setupLog.Info("Go memory limit set from the container's", "GOMEMLIMIT", limit, "share", memlimit.Share)
	}
	if err := run(c); err != nil {
		setupLog.Error(err, "Manager stopped")
		os.Exit(1)
	}
}

// run runs the manager and the operator on it until a signal stops them.
func run(c *config) error {
	cfg, stop, err := restConfig(c)
	if err != nil {
		return err
	}
	defer stop()
	cfg.QPS, cfg.Burst = float32(c.qps), c.burst

	mgr, err := ctrl.NewManager(cfg, managerOptions(c))
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	// Setup defaults opts itself; defaulting them here too lets the log line below say what
	// runs, such as the login namespace found.
	opts := c.operator
	opts.Default()
	if err := operator.Setup(ctx, mgr, opts); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	setupLog.Info("Starting manager", "restAddress", opts.RESTAddr, "sessionTimeout", opts.Policy.DefaultTimeout,
		"terminalRetention", opts.Policy.TerminalRetention, "loginSessions", opts.LoginSessions,
		"loginNamespace", opts.LoginNamespace)
	return mgr.Start(ctx)
}

// restConfig connects to the cluster of the kubeconfig, or starts the local control plane.
func restConfig(c *config) (*rest.Config, func(), error) {
	if !c.localControlPlane {
		cfg, err := ctrl.GetConfig()
		return cfg, func() {}, err
	}
	setupLog.Info("Starting local control plane", "assets", localcp.AssetsDir())
	cp, err := localcp.Start()
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		if err := cp.Stop(); err != nil {
			setupLog.Error(err, "Stopping local control plane")
		}
	}
	if c.localKubeconfig != "" {
		if err := cp.WriteAdminKubeconfig(c.localKubeconfig); err != nil {
			stop()
			return nil, nil, fmt.Errorf("writing kubeconfig: %w", err)
		}
	}
	setupLog.Info("Local control plane ready", "apiServer", cp.Config.Host, "kubeconfig", c.localKubeconfig)
	return cp.Config, stop, nil
}

// managerOptions are the manager's options: its listeners, leader election, and the cache
// the operator needs.
func managerOptions(c *config) ctrl.Options {
	var tlsOpts []func(*tls.Config)
	if !c.enableHTTP2 {
		// HTTP/2 is off by default: see CVE-2023-44487 (HTTP/2 Rapid Reset).
		tlsOpts = append(tlsOpts, func(t *tls.Config) { t.NextProtos = []string{"http/1.1"} })
	}
	metrics := metricsserver.Options{
		BindAddress:   c.metricsAddr,
		SecureServing: c.secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if c.secureMetrics {
		metrics.FilterProvider = auth.MetricsFilter(auth.Options{Limits: c.operator.TokenReviews}, auth.DefaultMetricsInFlight)
	}
	return ctrl.Options{
		Scheme: scheme,
		// The cache holds every session: only what the operator reads of them.
		Cache:                  operator.CacheOptions(cache.Options{}),
		Metrics:                metrics,
		HealthProbeBindAddress: c.probeAddr,
		PprofBindAddress:       c.pprofAddr,
		LeaderElection:         c.leaderElect,
		LeaderElectionID:       "update-session-operator.contentlib.dev",
		// Release the lease on a clean stop, so that another replica expires sessions within
		// seconds rather than after the lease runs out.
		LeaderElectionReleaseOnCancel: true,
	}
}
