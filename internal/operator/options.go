package operator

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/admit"
	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/login"
	"github.com/contentlib/update-session-operator/internal/pull"
	"github.com/contentlib/update-session-operator/internal/rest"
	"github.com/contentlib/update-session-operator/internal/session"
)

// Options configure the operator. BindFlags binds them to the manager's flags; Setup fills
// unset fields with Default and refuses what Validate refuses.
type Options struct {
	// RESTAddr is where the REST server listens; empty or 0 disables it.
	RESTAddr string
	// Policy is the sessions' timeouts and retention. A zero DefaultTimeout takes the flag's
	// default; the other zero fields mean none: no retention, no coalescing, no safety margin.
	Policy session.Policy
	// Concurrency is the number of sessions reconciled in parallel.
	Concurrency int
	// RESTNamespace is where REST create and list work for callers that are not service
	// accounts and name no namespace.
	RESTNamespace string
	// RESTCertDir holds the REST server's tls.crt and tls.key; empty serves plain HTTP.
	RESTCertDir string
	// RESTShutdownDelay is how long the REST server answers, not ready, after shutdown begins.
	RESTShutdownDelay time.Duration
	// RESTConnections caps the REST server's open connections, in total and per source (remote
	// IP); zero fields take admit.DefaultConnections's.
	RESTConnections admit.Caps
	// RESTRequests caps its requests in flight, in total and per source; zero fields take
	// admit.DefaultRequests's.
	RESTRequests admit.Caps
	// TokenReviews bound the reviews of unknown tokens; zero values take auth.DefaultReviewLimits.
	TokenReviews auth.ReviewLimits
	// TokenAudiences, when set, are the audiences a REST caller's token must be issued for.
	TokenAudiences []string
	// TokenLifetimes are how long the REST server's authentication and authorization answers
	// stand; zero values take auth's defaults.
	TokenLifetimes auth.Lifetimes
	// LoginSessions makes login answer with a session id kept in a Secret of LoginNamespace
	// (see package login); false, with the caller's token.
	LoginSessions bool
	// LoginNamespace is where logins keep their Secrets; empty: the namespace the manager runs
	// in, else default.
	LoginNamespace string
	// LoginsPerIdentity bounds the logins stored for one identity; zero takes
	// login.DefaultMaxPerIdentity.
	LoginsPerIdentity int
	// RESTReads bound the API-server reads of each REST caller; zero values take
	// rest.DefaultReadLimits.
	RESTReads rest.ReadLimits
	// ContentStore is the URL of the store of file bytes (see content.Open); empty takes
	// defaultContentStore.
	ContentStore string
	// MaxFilesPerSession and MaxFileBytes bound a session's files; zero values take
	// rest.DefaultMaxFilesPerSession and rest.DefaultMaxFileBytes.
	MaxFilesPerSession int
	MaxFileBytes       int64
	// Content, when set, is a store already open, used instead of ContentStore (the tests
	// share one between replicas).
	Content *content.Store
	// ContentMaxTransfers caps the transfers in flight on one replica, PUSH and PULL alike.
	ContentMaxTransfers int
	// TransferProgressInterval is how often a running transfer writes its progress.
	TransferProgressInterval time.Duration
	// RESTAdvertiseURL, when set, is where upload URIs point (scheme, host and an optional path
	// prefix: what clients reach the REST server at); else the scheme and Host of the request
	// that added the file.
	RESTAdvertiseURL string
	// TransferKeyNamespace is where the key of upload capabilities is kept (see
	// transfer.Keys); empty: the login namespace, else the namespace the manager runs in.
	TransferKeyNamespace string
	// ContentCollectInterval and ContentCollectGrace pace the collector of what crashes left
	// in the store (see transfer.Collector); zero takes the defaults.
	ContentCollectInterval, ContentCollectGrace time.Duration
	// Clock defaults to the real clock.
	Clock clock.PassiveClock
	// PullAllowedCIDRs are addresses PULL transfers may reach although they are loopback,
	// link-local, private or the cluster's own (see package pull).
	PullAllowedCIDRs []netip.Prefix
}

// The defaults of the manager's flags that Default also gives to zero fields, where the
// defaults do not come from the package the field configures.
const (
	defaultRESTNamespace  = "default"
	defaultSessionTimeout = 5 * time.Minute
	defaultConcurrency    = 64
	// defaultContentStore is where a pod keeps content without other settings: the mount
	// point of the volume (a PVC) the chart gives it.
	defaultContentStore     = "file:///var/lib/update-session-operator/content"
	defaultMaxTransfers     = 64
	defaultProgressInterval = 5 * time.Second
	defaultCollectInterval  = 10 * time.Minute
	defaultCollectGrace     = time.Hour
)

// BindFlags defines the manager's flags that configure the operator on fs, with their
// defaults, and binds them to o.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	o.bindRESTFlags(fs)
	o.bindPolicyFlags(fs)
	o.bindCallerFlags(fs)
	o.bindContentFlags(fs)
	o.bindPullFlags(fs)
}

// bindPullFlags binds what PULL transfers may reach.
func (o *Options) bindPullFlags(fs *flag.FlagSet) {
	fs.Func("content-pull-allowed-cidrs", "Comma-separated CIDRs (or addresses) that PULL transfers and probes may "+
		"reach although they are loopback, link-local (cloud metadata), private, carrier-grade NAT or the API server's; "+
		"empty allows none of them.", func(v string) error {
		cidrs, err := pull.ParseCIDRs(v)
		o.PullAllowedCIDRs = cidrs
		return err
	})
}

// bindContentFlags binds the store of file bytes and the limits on sessions' files.
func (o *Options) bindContentFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.ContentStore, "content-store", defaultContentStore,
		"Where file bytes live: file:///dir (a local directory, created if missing; one replica, or a volume "+
			"every replica mounts) or s3://bucket?endpoint=URL&region=R&use_path_style=true (S3-compatible object "+
			"storage, credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).")
	fs.IntVar(&o.MaxFilesPerSession, "content-max-files-per-session", rest.DefaultMaxFilesPerSession,
		fmt.Sprintf("Files one update session may hold; an add past it is refused INVALID_ARGUMENT. At most %d.",
			maxFilesPerSession))
	fs.Int64Var(&o.MaxFileBytes, "content-max-file-bytes", rest.DefaultMaxFileBytes,
		"Bytes one file may have; an add promising more is refused INVALID_ARGUMENT, a transfer sending more fails.")
	fs.IntVar(&o.ContentMaxTransfers, "content-max-transfers", defaultMaxTransfers,
		"Transfers in flight at once on one replica, PUSH, PULL and downloads alike; an upload or a download "+
			"past it is answered 503 SERVICE_UNAVAILABLE with Retry-After.")
	fs.DurationVar(&o.TransferProgressInterval, "transfer-progress-interval", defaultProgressInterval,
		"How often a running transfer writes its progress (bytesTransferred, its heartbeat, the session's "+
			"lastActivity) to the session's status, and a download session's downloads theirs; a transfer "+
			"silent for three intervals is taken for dead.")
	fs.StringVar(&o.RESTAdvertiseURL, "rest-advertise-url", "",
		"Where clients reach the REST server (https://host[:port][/prefix]), which upload URIs point to; "+
			"empty: the scheme and Host of the request that added the file.")
	fs.DurationVar(&o.ContentCollectInterval, "content-collect-interval", defaultCollectInterval,
		"How often the leader looks for bytes that crashes left in the content store (staged by sessions gone).")
	fs.DurationVar(&o.ContentCollectGrace, "content-collect-grace", defaultCollectGrace,
		"How old such bytes must be before they are deleted: longer than a session takes to show in every replica's cache.")
	fs.StringVar(&o.TransferKeyNamespace, "transfer-key-namespace", "",
		"Where the Secret with the key of upload URIs' capabilities is kept, shared by every replica; "+
			"empty: --rest-login-namespace, else the namespace the manager runs in.")
}

// maxFilesPerSession is the most files the schema lets a session's status hold.
const maxFilesPerSession = 256

// bindRESTFlags binds the REST server's listener, its certificates and its caps.
func (o *Options) bindRESTFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.RESTAddr, "rest-bind-address", ":8090", "The address the update-session REST API binds to; 0 disables it.")
	fs.StringVar(&o.RESTNamespace, "rest-default-namespace", defaultRESTNamespace,
		"Where REST create and list work for a caller that is not a service account and names no namespace.")
	fs.StringVar(&o.RESTCertDir, "rest-cert-dir", "",
		"Folder with tls.crt and tls.key for the REST API, reloaded when they change; empty serves plain HTTP.")
	fs.DurationVar(&o.RESTShutdownDelay, "rest-shutdown-delay", 0,
		"On SIGTERM, how long the REST server keeps answering while /readyz reports not ready, before it closes "+
			"its listener: the time a Service takes to stop routing to a stopping pod (the shipped Deployment sets 5s).")
	fs.IntVar(&o.RESTConnections.Total, "rest-max-connections", admit.DefaultConnections.Total,
		"REST connections open at once. One past it has its request answered 503 SERVICE_UNAVAILABLE with "+
			"Retry-After and is closed; one past twice it is closed at accept.")
	fs.IntVar(&o.RESTConnections.PerSource, "rest-max-connections-per-source", admit.DefaultConnections.PerSource,
		"REST connections open at once from one source IP (a pod, a node, a load balancer), refused as past "+
			"--rest-max-connections.")
	fs.IntVar(&o.RESTRequests.Total, "rest-max-requests-in-flight", admit.DefaultRequests.Total,
		"REST requests in flight at once; one past it is answered 503 SERVICE_UNAVAILABLE with Retry-After at once.")
	fs.IntVar(&o.RESTRequests.PerSource, "rest-max-requests-in-flight-per-source", admit.DefaultRequests.PerSource,
		"REST requests in flight at once from one source IP; one past it is answered as past --rest-max-requests-in-flight.")
}

// bindPolicyFlags binds the sessions' timeouts and retention, and the reconciler's parallelism.
func (o *Options) bindPolicyFlags(fs *flag.FlagSet) {
	fs.DurationVar(&o.Policy.DefaultTimeout, "session-timeout", defaultSessionTimeout,
		"Idle timeout of a session whose spec.expirationTimeoutSeconds is not set; at most 24h, as the spec's.")
	fs.DurationVar(&o.Policy.TerminalRetention, "terminal-retention", 5*time.Minute,
		"How long sessions in DONE, ERROR or CANCELED are kept before they are deleted.")
	fs.DurationVar(&o.Policy.MaxCoalesce, "keepalive-coalesce-window", session.DefaultMaxCoalesce,
		"A keep-alive that changes nothing else is answered without a write while lastActivity is younger "+
			"than this or 1% of the session's timeout, whichever is smaller (3s for the default 5m); "+
			"0 writes every keep-alive.")
	fs.DurationVar(&o.Policy.DeletionMargin, "expiry-safety-margin", 250*time.Millisecond,
		"An idle session is deleted no earlier than this after its stored expirationTime: the clock skew between "+
			"replicas it covers.")
	fs.IntVar(&o.Concurrency, "max-concurrent-reconciles", defaultConcurrency, "Sessions reconciled in parallel.")
}

// bindCallerFlags binds what REST callers may spend: token reviews, logins and API-server reads.
func (o *Options) bindCallerFlags(fs *flag.FlagSet) {
	fs.Float64Var(&o.TokenReviews.QPS, "rest-token-review-qps", auth.DefaultReviewLimits.QPS,
		"TokenReviews a second for tokens not in the cache that are not this cluster's service-account tokens "+
			"(those are checked locally first), shared fairly by source; past its share a call answers 503 "+
			"with Retry-After at once.")
	fs.IntVar(&o.TokenReviews.Burst, "rest-token-review-burst", auth.DefaultReviewLimits.Burst,
		"Burst of those TokenReviews, shared by source.")
	fs.IntVar(&o.TokenReviews.Concurrency, "rest-token-review-concurrency", auth.DefaultReviewLimits.Concurrency,
		"Those TokenReviews in flight at once.")
	fs.Func("rest-token-audiences", "Comma-separated audiences a REST caller's token must be issued for "+
		"(kubectl create token NAME --audience=...); empty accepts tokens for the API server.", func(v string) error {
		o.TokenAudiences = nil
		for a := range strings.SplitSeq(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				o.TokenAudiences = append(o.TokenAudiences, a)
			}
		}
		return nil
	})
	fs.BoolVar(&o.LoginSessions, "rest-login-sessions", true,
		"Login answers with a 32-character session id, kept (its token encrypted) in a Secret of --rest-login-namespace; "+
			"false answers with the caller's token itself.")
	fs.StringVar(&o.LoginNamespace, "rest-login-namespace", "",
		"Where logins keep their Secrets; empty: the namespace the manager runs in, else default.")
	fs.IntVar(&o.LoginsPerIdentity, "rest-login-max-per-identity", login.DefaultMaxPerIdentity,
		"Logins of unexpired tokens stored per caller identity; past it login answers with the caller's token itself.")
	fs.Float64Var(&o.RESTReads.QPS, "rest-read-qps", rest.DefaultReadLimits.QPS,
		"Reads of the API server (get, list, create, login) or the content store (item file and storage calls, "+
			"validate, remove of a file the session lacks) "+
			"a second per REST caller; past it a call answers 503 with Retry-After.")
	fs.IntVar(&o.RESTReads.Burst, "rest-read-burst", rest.DefaultReadLimits.Burst,
		"Burst of API-server and content-store reads per REST caller.")
}

// Default fills the fields left unset with the flags' defaults, so that Options built in code
// (the tests') run as the manager does. Zero values that mean something (no retention, no
// coalescing, plain HTTP) stay; a RESTAddr of 0 becomes empty, as 0 disables every listener
// of the manager.
func (o *Options) Default() {
	if o.RESTAddr == "0" {
		o.RESTAddr = ""
	}
	if o.RESTNamespace == "" {
		o.RESTNamespace = defaultRESTNamespace
	}
	if o.Policy.DefaultTimeout == 0 {
		o.Policy.DefaultTimeout = defaultSessionTimeout
	}
	if o.Concurrency == 0 {
		o.Concurrency = defaultConcurrency
	}
	o.RESTConnections = o.RESTConnections.Or(admit.DefaultConnections)
	o.RESTRequests = o.RESTRequests.Or(admit.DefaultRequests)
	if o.TokenReviews == (auth.ReviewLimits{}) {
		o.TokenReviews = auth.DefaultReviewLimits
	}
	if o.LoginSessions && o.LoginNamespace == "" {
		o.LoginNamespace = podNamespace()
	}
	if o.LoginsPerIdentity == 0 {
		o.LoginsPerIdentity = login.DefaultMaxPerIdentity
	}
	if o.RESTReads == (rest.ReadLimits{}) {
		o.RESTReads = rest.DefaultReadLimits
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	o.defaultContent()
	if o.MaxFilesPerSession == 0 {
		o.MaxFilesPerSession = rest.DefaultMaxFilesPerSession
	}
	if o.MaxFileBytes == 0 {
		o.MaxFileBytes = rest.DefaultMaxFileBytes
	}
}

// defaultContent fills the content store's and the transfers' unset fields.
func (o *Options) defaultContent() {
	if o.ContentStore == "" {
		o.ContentStore = defaultContentStore
	}
	if o.ContentMaxTransfers == 0 {
		o.ContentMaxTransfers = defaultMaxTransfers
	}
	if o.TransferProgressInterval == 0 {
		o.TransferProgressInterval = defaultProgressInterval
	}
	if o.TransferKeyNamespace == "" {
		o.TransferKeyNamespace = o.LoginNamespace
	}
	if o.TransferKeyNamespace == "" {
		o.TransferKeyNamespace = podNamespace()
	}
	if o.ContentCollectInterval == 0 {
		o.ContentCollectInterval = defaultCollectInterval
	}
	if o.ContentCollectGrace == 0 {
		o.ContentCollectGrace = defaultCollectGrace
	}
}

// inClusterNamespace holds the namespace of a pod's service account.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// podNamespace is the namespace the manager runs in, or default outside a pod.
func podNamespace() string {
	if ns, err := os.ReadFile(inClusterNamespace); err == nil && len(strings.TrimSpace(string(ns))) > 0 {
		return strings.TrimSpace(string(ns))
	}
	return "default"
}

// Validate reports the first option out of its range, naming the flag that sets it. The zero
// values Default fills are out of range: the manager validates its flags as given, so that
// --rest-read-qps=0 is refused rather than taken for the default.
func (o *Options) Validate() error {
	if err := o.validatePolicy(); err != nil {
		return err
	}
	switch {
	case o.TokenReviews.QPS <= 0 || o.TokenReviews.Burst < 1 || o.TokenReviews.Concurrency < 1:
		return errors.New("--rest-token-review-qps, --rest-token-review-burst and --rest-token-review-concurrency must be positive")
	case o.RESTConnections.Total < 1 || o.RESTConnections.PerSource < 1 ||
		o.RESTRequests.Total < 1 || o.RESTRequests.PerSource < 1:
		return errors.New("--rest-max-connections, --rest-max-connections-per-source, --rest-max-requests-in-flight " +
			"and --rest-max-requests-in-flight-per-source must be positive")
	case o.LoginsPerIdentity < 1:
		return fmt.Errorf("--rest-login-max-per-identity must be at least 1, got %d", o.LoginsPerIdentity)
	case o.RESTReads.QPS <= 0 || o.RESTReads.Burst < 1:
		return errors.New("--rest-read-qps and --rest-read-burst must be positive")
	case o.RESTShutdownDelay < 0:
		return fmt.Errorf("--rest-shutdown-delay must not be negative, got %s", o.RESTShutdownDelay)
	case o.Concurrency < 1:
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, got %d", o.Concurrency)
	case o.MaxFilesPerSession < 1 || o.MaxFilesPerSession > maxFilesPerSession:
		return fmt.Errorf("--content-max-files-per-session must be within 1..%d, got %d", maxFilesPerSession, o.MaxFilesPerSession)
	case o.MaxFileBytes < 1:
		return fmt.Errorf("--content-max-file-bytes must be positive, got %d", o.MaxFileBytes)
	}
	return o.validateContent()
}

// validateContent checks the limits of transfers and the advertised URL.
func (o *Options) validateContent() error {
	switch {
	case o.ContentMaxTransfers < 1:
		return fmt.Errorf("--content-max-transfers must be at least 1, got %d", o.ContentMaxTransfers)
	case o.TransferProgressInterval <= 0:
		return fmt.Errorf("--transfer-progress-interval must be positive, got %s", o.TransferProgressInterval)
	case o.ContentCollectInterval <= 0 || o.ContentCollectGrace <= 0:
		return errors.New("--content-collect-interval and --content-collect-grace must be positive")
	}
	if o.RESTAdvertiseURL != "" {
		u, err := url.Parse(o.RESTAdvertiseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--rest-advertise-url must be an http or https URL with a host and no query, got %q",
				o.RESTAdvertiseURL)
		}
	}
	return nil
}

// validatePolicy checks the session policy against the bounds the CRD holds the status to.
func (o *Options) validatePolicy() error {
	p := o.Policy
	switch {
	case p.DefaultTimeout <= 0:
		return fmt.Errorf("--session-timeout must be positive, got %s", p.DefaultTimeout)
	case p.DefaultTimeout > v1alpha1.MaxExpirationTimeoutSeconds*time.Second:
		// The CRD refuses a status whose expirationTime is further from lastActivity.
		return fmt.Errorf("--session-timeout must be at most %s, got %s",
			v1alpha1.MaxExpirationTimeoutSeconds*time.Second, p.DefaultTimeout)
	case p.MaxCoalesce < 0:
		return fmt.Errorf("--keepalive-coalesce-window must not be negative, got %s", p.MaxCoalesce)
	case p.DeletionMargin < 0:
		return fmt.Errorf("--expiry-safety-margin must not be negative, got %s", p.DeletionMargin)
	case p.TerminalRetention < 0:
		return fmt.Errorf("--terminal-retention must not be negative, got %s", p.TerminalRetention)
	}
	return nil
}
