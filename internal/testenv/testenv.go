// Package testenv runs the tests' control plane (a real kube-apiserver and etcd) and the
// operator on it, each test in a namespace of its own.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/localcp"
	"github.com/contentlib/update-session-operator/internal/operator"
)

// Scheme knows the built-in types, CustomResourceDefinition and UpdateSession.
var Scheme = runtime.NewScheme()

// init fills Scheme.
func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(v1alpha1.AddToScheme(Scheme))
	utilruntime.Must(apiextensionsv1.AddToScheme(Scheme))
}

// Env is a control plane shared by the tests of one package.
type Env struct {
	CP *localcp.ControlPlane
	// Client talks to the API server directly, without a cache: tests assert through it.
	Client client.WithWatch

	mu               sync.Mutex
	slowestRoundTrip time.Duration
}

// Main starts the control plane, runs the package's tests and stops it: call it from TestMain.
func Main(m *testing.M, env **Env) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(logLevel())))
	cp, err := localcp.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c, err := client.NewWithWatch(cp.Config, client.Options{Scheme: Scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := installOperatorRBAC(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*env = &Env{CP: cp, Client: c}
	code := m.Run()
	if err := cp.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// Namespace creates a namespace for one test.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	e.bindLeaderElection(t, ns.Name)
	return ns.Name
}

// Operator is the operator running for one test.
type Operator struct {
	// RESTURL is the base URL of its REST server ("http://127.0.0.1:port").
	RESTURL string
	// ContentStore is the URL of its content store: a directory of the test's own unless
	// the options named one.
	ContentStore string
	// Stop stops it and waits until it has stopped; it is also called at cleanup.
	Stop func()
	// Elected is closed once it leads (at once without leader election): only then it reconciles.
	Elected <-chan struct{}
	// Cache is its manager's cache, the informers whose objects the REST server reads.
	Cache cache.Cache
}

// StartOperator runs the operator, watching only namespace, until the test ends. When
// opts.RESTAddr is empty, the REST server listens on a free local port; when
// opts.RESTNamespace is empty, REST create and list work in namespace. Logins are on, kept in
// opts.LoginNamespace or, when empty, OperatorNamespace. The rest of opts takes its defaults
// and is validated, as the manager's flags are (see operator.Options).
func (e *Env) StartOperator(t testing.TB, namespace string, opts operator.Options) *Operator {
	t.Helper()
	return e.StartOperatorWith(t, namespace, opts, nil, nil)
}

// StartOperatorWith is StartOperator connecting with cfg (nil: the admin connection) and with
// the manager options changed by tweak (nil: none). Either way the operator acts as its own
// ServiceAccount with the RBAC config/rbac ships, never as admin.
func (e *Env) StartOperatorWith(t testing.TB, namespace string, opts operator.Options, cfg *rest.Config,
	tweak func(*ctrl.Options)) *Operator {
	t.Helper()
	if opts.RESTAddr == "" {
		opts.RESTAddr = FreeAddr(t)
	}
	op := e.LaunchOperator(t, namespace, opts, cfg, tweak)
	waitListening(t, opts.RESTAddr)
	return op
}

// LaunchOperator is StartOperatorWith without waiting for the REST server to listen: for
// tests of what a replica does before it is ready.
func (e *Env) LaunchOperator(t testing.TB, namespace string, opts operator.Options, cfg *rest.Config,
	tweak func(*ctrl.Options)) *Operator {
	t.Helper()
	if cfg == nil {
		cfg = e.CP.Config
	}
	cfg = asOperator(cfg)
	if opts.RESTAddr == "" {
		opts.RESTAddr = FreeAddr(t)
	}
	if opts.RESTNamespace == "" {
		opts.RESTNamespace = namespace
	}
	opts.LoginSessions = true
	if opts.ContentStore == "" && opts.Content == nil {
		opts.ContentStore = "file://" + t.TempDir()
	}
	if opts.LoginNamespace == "" {
		opts.LoginNamespace = OperatorNamespace
	}
	skip := true
	mgrOpts := ctrl.Options{
		Scheme:                 Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  operator.CacheOptions(cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}}),
		Controller:             config.Controller{SkipNameValidation: &skip},
	}
	if tweak != nil {
		tweak(&mgrOpts)
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := operator.Setup(ctx, mgr, opts); err != nil {
		t.Fatalf("setting up operator: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	t.Cleanup(stop)
	scheme := "http://"
	if opts.RESTCertDir != "" {
		scheme = "https://"
	}
	return &Operator{RESTURL: scheme + opts.RESTAddr, ContentStore: opts.ContentStore, Stop: stop, Elected: mgr.Elected(),
		Cache: mgr.GetCache()}
}

// FreeAddr returns a free local address ("127.0.0.1:port") to listen on.
func FreeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// waitListening waits until something listens on addr, failing the test after a while.
func waitListening(t testing.TB, addr string) {
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) {
			conn, err := net.Dial("tcp", addr)
			if err == nil {
				_ = conn.Close()
			}
			return err == nil, nil
		})
	if err != nil {
		t.Fatalf("REST server did not listen on %s", addr)
	}
}

// logLevel is the level of the tests' logs: errors only, unless TEST_VERBOSE is set.
func logLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}
