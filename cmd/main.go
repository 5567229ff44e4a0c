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
	"strings"
	"time"

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
	"github.com/contentlib/update-session-operator/internal/admit"
	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/localcp"
	"github.com/contentlib/update-session-operator/internal/login"
	"github.com/contentlib/update-session-operator/internal/memlimit"
	"github.com/contentlib/update-session-operator/internal/operator"
	restapi "github.com/contentlib/update-session-operator/internal/rest"
	"github.com/contentlib/update-session-operator/internal/session"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
}

type flags struct {
	metricsAddr, probeAddr, restAddr string
	pprofAddr                        string
	restNamespace, restCertDir       string
	restShutdownDelay                time.Duration
	restConnections, restRequests    admit.Caps
	leaderElect, secureMetrics       bool
	enableHTTP2                      bool
	localControlPlane                bool
	localKubeconfig                  string
	policy                           session.Policy
	concurrency                      int
	qps                              float64
	burst                            int
	tokenReviews                     auth.ReviewLimits
	tokenAudiences                   []string
	loginSessions                    bool
	loginNamespace                   string
	loginsPerIdentity                int
	restReads                        restapi.ReadLimits
}

// bindFlags defines the manager's flags on fs, returning where their values go.
func bindFlags(fs *flag.FlagSet) (*flags, *zap.Options) {
	f := &flags{}
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or leave as 0 to disable the metrics service.")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "The address the probe endpoint binds to; 0 disables it.")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "0", "The address Go's pprof profiles are served on "+
		"(/debug/pprof/), for profiling the hot path; 0 disables it. Keep it off the network: profiles need no credentials.")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "Enable leader election for the reconciler, "+
		"so that one replica expires sessions while every replica serves the REST API.")
	fs.BoolVar(&f.secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with authentication and authorization.")
	fs.BoolVar(&f.enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server.")
	fs.StringVar(&f.restAddr, "rest-bind-address", ":8090", "The address the update-session REST API binds to; 0 disables it.")
	fs.StringVar(&f.restNamespace, "rest-default-namespace", "default",
		"Where REST create and list work for a caller that is not a service account and names no namespace.")
	fs.StringVar(&f.restCertDir, "rest-cert-dir", "",
		"Folder with tls.crt and tls.key for the REST API, reloaded when they change; empty serves plain HTTP.")
	fs.DurationVar(&f.restShutdownDelay, "rest-shutdown-delay", 0,
		"On SIGTERM, how long the REST server keeps answering while /readyz reports not ready, before it closes "+
			"its listener: the time a Service takes to stop routing to a stopping pod (the shipped Deployment sets 5s).")
	fs.IntVar(&f.restConnections.Total, "rest-max-connections", admit.DefaultConnections.Total,
		"REST connections open at once. One past it has its request answered 503 SERVICE_UNAVAILABLE with "+
			"Retry-After and is closed; one past twice it is closed at accept.")
	fs.IntVar(&f.restConnections.PerSource, "rest-max-connections-per-source", admit.DefaultConnections.PerSource,
		"REST connections open at once from one source IP (a pod, a node, a load balancer), refused as past "+
			"--rest-max-connections.")
	fs.IntVar(&f.restRequests.Total, "rest-max-requests-in-flight", admit.DefaultRequests.Total,
		"REST requests in flight at once; one past it is answered 503 SERVICE_UNAVAILABLE with Retry-After at once.")
	fs.IntVar(&f.restRequests.PerSource, "rest-max-requests-in-flight-per-source", admit.DefaultRequests.PerSource,
		"REST requests in flight at once from one source IP; one past it is answered as past --rest-max-requests-in-flight.")
	fs.DurationVar(&f.policy.DefaultTimeout, "session-timeout", 5*time.Minute,
		"Idle timeout of a session whose spec.expirationTimeoutSeconds is not set; at most 24h, as the spec's.")
	fs.DurationVar(&f.policy.TerminalRetention, "terminal-retention", 5*time.Minute,
		"How long sessions in DONE, ERROR or CANCELED are kept before they are deleted.")
	fs.DurationVar(&f.policy.MaxCoalesce, "keepalive-coalesce-window", session.DefaultMaxCoalesce,
		"A keep-alive that changes nothing else is answered without a write while lastActivity is younger "+
			"than this or 1% of the session's timeout, whichever is smaller (3s for the default 5m); "+
			"0 writes every keep-alive.")
	fs.DurationVar(&f.policy.DeletionMargin, "expiry-safety-margin", 250*time.Millisecond,
		"An idle session is deleted no earlier than this after its stored expirationTime: the clock skew between "+
			"replicas it covers.")
	fs.IntVar(&f.concurrency, "max-concurrent-reconciles", 64, "Sessions reconciled in parallel.")
	fs.Float64Var(&f.qps, "kube-api-qps", 2000, "Client-side rate limit of requests to the API server (queries per second).")
	fs.IntVar(&f.burst, "kube-api-burst", 4000, "Client-side burst of requests to the API server.")
	fs.Float64Var(&f.tokenReviews.QPS, "rest-token-review-qps", auth.DefaultReviewLimits.QPS,
		"TokenReviews a second for tokens not in the cache that are not this cluster's service-account tokens "+
			"(those are checked locally first), shared fairly by source; past its share a call answers 503 "+
			"with Retry-After at once.")
	fs.IntVar(&f.tokenReviews.Burst, "rest-token-review-burst", auth.DefaultReviewLimits.Burst,
		"Burst of those TokenReviews, shared by source.")
	fs.IntVar(&f.tokenReviews.Concurrency, "rest-token-review-concurrency", auth.DefaultReviewLimits.Concurrency,
		"Those TokenReviews in flight at once.")
	fs.Func("rest-token-audiences", "Comma-separated audiences a REST caller's token must be issued for "+
		"(kubectl create token NAME --audience=...); empty accepts tokens for the API server.", func(v string) error {
		f.tokenAudiences = nil
		for a := range strings.SplitSeq(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				f.tokenAudiences = append(f.tokenAudiences, a)
			}
		}
		return nil
	})
	fs.BoolVar(&f.loginSessions, "rest-login-sessions", true,
		"Login answers with a 32-character session id, kept (its token encrypted) in a Secret of --rest-login-namespace; "+
			"false answers with the caller's token itself.")
	fs.StringVar(&f.loginNamespace, "rest-login-namespace", "",
		"Where logins keep their Secrets; empty: the namespace the manager runs in, else default.")
	fs.IntVar(&f.loginsPerIdentity, "rest-login-max-per-identity", login.DefaultMaxPerIdentity,
		"Logins of unexpired tokens stored per caller identity; past it login answers with the caller's token itself.")
	fs.Float64Var(&f.restReads.QPS, "rest-read-qps", restapi.DefaultReadLimits.QPS,
		"API-server reads a second per REST caller (get, list, create, login); past it a call answers 503 with Retry-After.")
	fs.IntVar(&f.restReads.Burst, "rest-read-burst", restapi.DefaultReadLimits.Burst,
		"Burst of API-server reads per REST caller.")
	fs.BoolVar(&f.localControlPlane, "local-control-plane", false,
		"Start an embedded kube-apiserver and etcd (the envtest binaries), install the CRD and run against it.")
	fs.StringVar(&f.localKubeconfig, "local-kubeconfig", "",
		"With --local-control-plane: write an admin kubeconfig for it to this path.")
	// Production logging unless --zap-devel: JSON at info level. Development mode (kubebuilder's
	// scaffold default) logs every REST call at debug level, thousands of lines a second from a
	// busy replica, and a stack trace with every warning. make run asks for it.
	opts := &zap.Options{}
	opts.BindFlags(fs)
	return f, opts
}

func (f flags) validate() error {
	switch {
	case f.policy.DefaultTimeout <= 0:
		return fmt.Errorf("--session-timeout must be positive, got %s", f.policy.DefaultTimeout)
	case f.policy.DefaultTimeout > v1alpha1.MaxExpirationTimeoutSeconds*time.Second:
		// The CRD refuses a status whose expirationTime is further from lastActivity.
		return fmt.Errorf("--session-timeout must be at most %s, got %s",
			v1alpha1.MaxExpirationTimeoutSeconds*time.Second, f.policy.DefaultTimeout)
	case f.policy.MaxCoalesce < 0:
		return fmt.Errorf("--keepalive-coalesce-window must not be negative, got %s", f.policy.MaxCoalesce)
	case f.policy.DeletionMargin < 0:
		return fmt.Errorf("--expiry-safety-margin must not be negative, got %s", f.policy.DeletionMargin)
	case f.policy.TerminalRetention < 0:
		return fmt.Errorf("--terminal-retention must not be negative, got %s", f.policy.TerminalRetention)
	case f.tokenReviews.QPS <= 0 || f.tokenReviews.Burst < 1 || f.tokenReviews.Concurrency < 1:
		return errors.New("--rest-token-review-qps, --rest-token-review-burst and --rest-token-review-concurrency must be positive")
	case f.restConnections.Total < 1 || f.restConnections.PerSource < 1 ||
		f.restRequests.Total < 1 || f.restRequests.PerSource < 1:
		return errors.New("--rest-max-connections, --rest-max-connections-per-source, --rest-max-requests-in-flight " +
			"and --rest-max-requests-in-flight-per-source must be positive")
	case f.loginsPerIdentity < 1:
		return fmt.Errorf("--rest-login-max-per-identity must be at least 1, got %d", f.loginsPerIdentity)
	case f.restReads.QPS <= 0 || f.restReads.Burst < 1:
		return errors.New("--rest-read-qps and --rest-read-burst must be positive")
	case f.restShutdownDelay < 0:
		return fmt.Errorf("--rest-shutdown-delay must not be negative, got %s", f.restShutdownDelay)
	case f.concurrency < 1:
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", f.concurrency)
	case f.localKubeconfig != "" && !f.localControlPlane:
		return errors.New("--local-kubeconfig needs --local-control-plane")
	}
	return nil
}

func main() {
	f, zapOpts := bindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(zapOpts)))
	if err := f.validate(); err != nil {
		setupLog.Error(err, "Invalid flags")
		os.Exit(2)
	}
	if limit, err := memlimit.FromCgroup("/sys/fs/cgroup"); err != nil {
		setupLog.Error(err, "Reading the container's memory limit; the Go runtime keeps no memory limit")
	} else if limit > 0 {
		setupLog.Info("Go memory limit set from the container's", "GOMEMLIMIT", limit, "share", memlimit.Share)
	}
	if err := run(*f); err != nil {
		setupLog.Error(err, "Manager stopped")
		os.Exit(1)
	}
}

func run(f flags) error {
	cfg, stop, err := restConfig(f)
	if err != nil {
		return err
	}
	defer stop()
	cfg.QPS, cfg.Burst = float32(f.qps), f.burst

	mgr, err := ctrl.NewManager(cfg, managerOptions(f))
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()
	err = operator.Setup(ctx, mgr, operator.Options{
		RESTAddr:          disabledIfZero(f.restAddr),
		RESTNamespace:     f.restNamespace,
		RESTCertDir:       f.restCertDir,
		RESTShutdownDelay: f.restShutdownDelay,
		RESTConnections:   f.restConnections,
		RESTRequests:      f.restRequests,
		Policy:            f.policy,
		Concurrency:       f.concurrency,

		TokenReviews:   f.tokenReviews,
		TokenAudiences: f.tokenAudiences,
		LoginNamespace: f.logins(),

		LoginsPerIdentity: f.loginsPerIdentity,
		RESTReads:         f.restReads,
	})
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	setupLog.Info("Starting manager", "restAddress", f.restAddr, "sessionTimeout", f.policy.DefaultTimeout,
		"terminalRetention", f.policy.TerminalRetention, "loginNamespace", f.logins())
	return mgr.Start(ctx)
}

// inClusterNamespace holds the namespace of a pod's service account.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// logins is the namespace of login sessions, or empty when they are off.
func (f flags) logins() string {
	switch {
	case !f.loginSessions:
		return ""
	case f.loginNamespace != "":
		return f.loginNamespace
	}
	if ns, err := os.ReadFile(inClusterNamespace); err == nil && len(strings.TrimSpace(string(ns))) > 0 {
		return strings.TrimSpace(string(ns))
	}
	return "default"
}

// restConfig connects to the cluster of the kubeconfig, or starts the local control plane.
func restConfig(f flags) (*rest.Config, func(), error) {
	if !f.localControlPlane {
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
	if f.localKubeconfig != "" {
		if err := cp.WriteAdminKubeconfig(f.localKubeconfig); err != nil {
			stop()
			return nil, nil, fmt.Errorf("writing kubeconfig: %w", err)
		}
	}
	setupLog.Info("Local control plane ready", "apiServer", cp.Config.Host, "kubeconfig", f.localKubeconfig)
	return cp.Config, stop, nil
}

func managerOptions(f flags) ctrl.Options {
	var tlsOpts []func(*tls.Config)
	if !f.enableHTTP2 {
		// HTTP/2 is off by default: see CVE-2023-44487 (HTTP/2 Rapid Reset).
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metrics := metricsserver.Options{
		BindAddress:   f.metricsAddr,
		SecureServing: f.secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if f.secureMetrics {
		metrics.FilterProvider = auth.MetricsFilter(auth.Options{Limits: f.tokenReviews}, auth.DefaultMetricsInFlight)
	}
	return ctrl.Options{
		Scheme: scheme,
		// The cache holds every session: only what the operator reads of them.
		Cache:                  operator.CacheOptions(cache.Options{}),
		Metrics:                metrics,
		HealthProbeBindAddress: f.probeAddr,
		PprofBindAddress:       f.pprofAddr,
		LeaderElection:         f.leaderElect,
		LeaderElectionID:       "update-session-operator.contentlib.dev",
		// Release the lease on a clean stop, so that another replica expires sessions within
		// seconds rather than after the lease runs out.
		LeaderElectionReleaseOnCancel: true,
	}
}

func disabledIfZero(addr string) string {
	if addr == "0" {
		return ""
	}
	return addr
}
