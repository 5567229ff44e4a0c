// Package auth decides who may call the REST API: it authenticates a caller's Kubernetes bearer
// token with a TokenReview, and authorizes each operation with a SubjectAccessReview for the
// RBAC a kubectl user would need for the same effect. Both answers are cached briefly, as the
// API server's own delegated authentication does.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	webhooktoken "k8s.io/apiserver/plugin/pkg/authenticator/token/webhook"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// SessionIDHeader is the header govmomi sends its session id in: the id a login answered (see
// package login), or a token.
const SessionIDHeader = "vmware-api-session-id"

// SessionIDKey is SessionIDHeader as net/http stores it. Header.Get canonicalises the key it
// is given, and for a key in lower case that is a new string on every call.
var SessionIDKey = textproto.CanonicalMIMEHeaderKey(SessionIDHeader)

// Default cache lifetimes (see Lifetimes). Accepted tokens are kept as long as kube-apiserver
// keeps webhook authentications, so that known callers do not depend on a review during a flood.
const (
	TokenCacheTTL        = 2 * time.Minute
	RefusedTokenCacheTTL = 10 * time.Second
	AllowCacheTTL        = 10 * time.Second
	DenyCacheTTL         = 5 * time.Second
)

// Lifetimes are how long the Gate's answers stand: a token stays accepted (never past its own
// expiry), and a decision stands, for at most this long after the API server would have
// changed its answer. Zero values take the defaults above.
type Lifetimes struct {
	Token, RefusedToken, Allow, Deny time.Duration
}

func (l Lifetimes) withDefaults() Lifetimes {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	return Lifetimes{or(l.Token, TokenCacheTTL), or(l.RefusedToken, RefusedTokenCacheTTL),
		or(l.Allow, AllowCacheTTL), or(l.Deny, DenyCacheTTL)}
}

const (
	reviewTimeout = 5 * time.Second
	resourceName  = "updatesessions"
	// maxTokenLength leaves room for a token sent as base64 basic auth within the REST
	// server's 16 KiB header limit; Kubernetes tokens are 1 to 2 KiB.
	maxTokenLength = 8 << 10
	maxUserLength  = 256
)

// retryBackoff retries a review briefly, so that a caller gets an answer, or
// SERVICE_UNAVAILABLE, within seconds when the API server is unreachable.
var retryBackoff = wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 2}

// Errors of Authenticate.
var (
	// ErrNoCredentials means the request carries no token.
	ErrNoCredentials = errors.New("no credentials: send a Kubernetes token (a service account's, say) as " +
		"Authorization: Bearer <token>, as " + SessionIDHeader + ": <token>, or as the password of basic auth")
	// ErrBasicPassword means basic auth whose password cannot be a token (empty, too long, or with
	// blanks), or whose user name is not printable text.
	ErrBasicPassword = errors.New("basic auth takes a Kubernetes bearer token as the password " +
		"(for example from kubectl create token NAME) and a printable user name")
	// ErrInvalidToken means the API server does not accept the token.
	ErrInvalidToken = errors.New("the token is not valid: it is unknown, expired or revoked")
)

// Gate authenticates and authorizes REST callers.
type Gate struct {
	// known are the callers whose tokens were accepted, with their decisions: the fast path.
	known knownTokens
	// local refuses forged and expired service-account tokens without asking anyone.
	local *localVerifier
	// tokens reviews tokens, remembering refusals; confirmations bound the reviews of tokens
	// whose signature checked out, unverified those of any other, each shared fairly by source.
	tokens                    authenticator.Token
	confirmations, unverified *FairLimiter
	reviewing                 singleflight.Group
	// refreshes re-decide what a caller was allowed before; firstDecisions decide the rest,
	// within firstTimes, a budget shared fairly by caller. Each has a client of its own, so
	// that refreshes never wait behind a flood of new questions.
	refreshes, firstDecisions authorizer.Authorizer
	firstTimes, refreshTimes  *FairLimiter
	// audiences a token must be issued for (one of them); empty: the API server's own.
	audiences authenticator.Audiences
	ttl       Lifetimes
	now       func() time.Time
}

// Options configure a Gate.
type Options struct {
	// Limits bound the TokenReviews of tokens that are not the cluster's service-account
	// tokens, shared fairly by source.
	Limits ReviewLimits
	// Confirmations bound the TokenReviews that confirm service-account tokens whose signature
	// checked out, shared fairly by source; zero takes DefaultConfirmations.
	Confirmations FairShare
	// FirstDecisions bound the SubjectAccessReviews of questions a caller was never allowed
	// before, shared fairly by caller; zero takes DefaultFirstDecisions.
	FirstDecisions FairShare
	// Refreshes bound the SubjectAccessReviews that re-ask what a caller was allowed, shared
	// fairly by caller; zero takes DefaultRefreshes.
	Refreshes FairShare
	// Audiences, when not empty, are the audiences a token must be issued for (one of them).
	Audiences []string
	// Lifetimes of cached answers; zero values take the defaults.
	Lifetimes Lifetimes
	// Clock is the Gate's clock; nil: the real clock.
	Clock clock.PassiveClock
}

// Default budgets. Confirmations come from tokens only the API server can sign, so they are
// generous: their burst lets a hundred clients never seen before start in the same second. A
// caller's first questions are capped per caller: a client needs a few (create, keep-alive,
// get), a script probing what it may do a few dozen, and one naming a new namespace on every
// call gets ten a second.
var (
	DefaultConfirmations  = FairShare{QPS: 100, Burst: 200, PerKeyBurst: 100, Concurrency: 16}
	DefaultFirstDecisions = FairShare{QPS: 100, Burst: 200, PerKeyQPS: 10, PerKeyBurst: 50, Concurrency: 16}
	// DefaultRefreshes leave a caller room to keep a few hundred decisions fresh (one refresh
	// each per Lifetimes.Allow), and no caller room to crowd out the others'.
	DefaultRefreshes = FairShare{QPS: 100, Burst: 200, PerKeyQPS: 20, PerKeyBurst: 200, Concurrency: 16}
)

// reviewClientQPS is the client-side rate of each of the Gate's clients.
const reviewClientQPS = 100

// NewGate returns a Gate that asks the API server of cfg, with clients of its own, so that
// reviews never use up the rate budget of the operator's other API calls.
func NewGate(cfg *rest.Config, opts Options) (*Gate, error) {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	now := opts.Clock.Now
	if opts.Limits == (ReviewLimits{}) {
		opts.Limits = DefaultReviewLimits
	}
	if opts.Confirmations == (FairShare{}) {
		opts.Confirmations = DefaultConfirmations
	}
	if opts.FirstDecisions == (FairShare{}) {
		opts.FirstDecisions = DefaultFirstDecisions
	}
	if opts.Refreshes == (FairShare{}) {
		opts.Refreshes = DefaultRefreshes
	}
	tokenClient, err := reviewClient(cfg)
	if err != nil {
		return nil, err
	}
	metrics := webhooktoken.AuthenticatorMetrics{
		RecordRequestTotal:   func(context.Context, string) {},
		RecordRequestLatency: func(context.Context, string, float64) {},
	}
	reviews, err := webhooktoken.NewFromInterface(tokenClient.AuthenticationV1(), nil, retryBackoff, reviewTimeout, metrics)
	if err != nil {
		return nil, err
	}
	refreshes, err := newAuthorizer(cfg)
	if err != nil {
		return nil, err
	}
	firstDecisions, err := newAuthorizer(cfg)
	if err != nil {
		return nil, err
	}
	ttl := opts.Lifetimes.withDefaults()
	return &Gate{
		known: knownTokens{ttl: ttl.Token},
		local: newLocalVerifier(tokenClient.Discovery().RESTClient(), opts.Audiences, ownToken(cfg), now),
		// Accepted tokens are remembered by the Gate (see Caller); this cache remembers
		// refusals, and makes concurrent reviews of one token a single review. Errors (an
		// unreachable API server, a throttled review) are not cached.
		tokens:        cache.New(reviews, false, 0, ttl.RefusedToken),
		confirmations: NewFairLimiter(opts.Confirmations, now),
		unverified: NewFairLimiter(FairShare{QPS: opts.Limits.QPS, Burst: opts.Limits.Burst,
			Concurrency: opts.Limits.Concurrency}, now),
		refreshes:      refreshes,
		firstDecisions: firstDecisions,
		firstTimes:     NewFairLimiter(opts.FirstDecisions, now),
		refreshTimes:   NewFairLimiter(opts.Refreshes, now),
		audiences:      opts.Audiences,
		ttl:            ttl,
		now:            now,
	}, nil
}

// reviewClient is a clientset of cfg with a rate limit of its own.
func reviewClient(cfg *rest.Config) (*kubernetes.Clientset, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = reviewClientQPS, 2*reviewClientQPS
	cfg.RateLimiter = nil
	return kubernetes.NewForConfig(cfg)
}

// newAuthorizer asks SubjectAccessReviews through a client of its own. Decisions are cached per
// caller by the Gate (see Caller), not by the authorizer.
func newAuthorizer(cfg *rest.Config) (authorizer.Authorizer, error) {
	cs, err := reviewClient(cfg)
	if err != nil {
		return nil, err
	}
	return authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: cs.AuthorizationV1(),
		WebhookRetryBackoff:       &retryBackoff,
	}.New()
}

// ownToken is the bearer token the operator itself authenticates with, "" when none (a client
// certificate, say).
func ownToken(cfg *rest.Config) string {
	if cfg.BearerToken != "" || cfg.BearerTokenFile == "" {
		return cfg.BearerToken
	}
	data, err := os.ReadFile(cfg.BearerTokenFile)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// Credential is what a request authenticates with.
type Credential struct {
	// Token is the Kubernetes bearer token.
	Token string
	// Basic is true when the token came as the password of HTTP basic auth, as govc and
	// PowerCLI send it; User is then the basic user name, which is only logged.
	Basic bool
	User  string
	// Session is true when Token came in SessionIDHeader: it may then be a login's session id.
	Session bool
}

// Credentials returns the credential of a request: from Authorization: Bearer, from the
// password of Authorization: Basic, else from the vmware-api-session-id header that govmomi
// sends after a login. This is the one place that reads credentials.
func Credentials(r *http.Request) (Credential, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, value, _ := strings.Cut(h, " ")
		switch {
		case strings.EqualFold(scheme, "Basic"):
			return basicCredential(r)
		case !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(value) == "":
			return Credential{}, fmt.Errorf("malformed Authorization header: want Bearer <token>, " +
				"or Basic with a token as the password")
		}
		return bearerCredential(strings.TrimSpace(value))
	}
	if token := strings.TrimSpace(r.Header.Get(SessionIDKey)); token != "" {
		return SessionCredential(token)
	}
	return Credential{}, ErrNoCredentials
}

// SessionCredential is the credential of a session id, or a token, sent where a login's session
// id goes: SessionIDHeader, or the session scheme of a vAPI JSON-RPC call's security context.
func SessionCredential(token string) (Credential, error) {
	cred, err := bearerCredential(token)
	cred.Session = err == nil
	return cred, err
}

// PasswordCredential is the credential of a user name and password, whose password is the
// token: basic auth's, or the user/password scheme of a vAPI JSON-RPC call's security context.
func PasswordCredential(name, password string) (Credential, error) {
	if !plausibleToken(password) || !printable(name) {
		return Credential{}, ErrBasicPassword
	}
	return Credential{Token: password, Basic: true, User: name}, nil
}

func bearerCredential(token string) (Credential, error) {
	if !plausibleToken(token) {
		return Credential{}, ErrInvalidToken
	}
	return Credential{Token: token}, nil
}

// basicCredential takes the token from the password of basic auth.
func basicCredential(r *http.Request) (Credential, error) {
	name, password, ok := r.BasicAuth()
	if !ok {
		return Credential{}, ErrBasicPassword
	}
	return PasswordCredential(name, password)
}

// plausibleToken: a token has no blanks. (Two IndexByte scans are vectorised; ContainsAny
// walks a kilobyte-long token byte by byte, on every call.)
func plausibleToken(token string) bool {
	return token != "" && len(token) <= maxTokenLength &&
		strings.IndexByte(token, ' ') < 0 && strings.IndexByte(token, '\t') < 0
}

// printable reports whether a user name is short, valid UTF-8 without control characters, so
// that it can go into a log line as it is.
func printable(name string) bool {
	return len(name) <= maxUserLength && utf8.ValidString(name) &&
		strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// Authenticate returns who the token belongs to. ErrInvalidToken means the API server refused
// it, or would (a forged or expired service-account token); ErrThrottled that it is unknown and
// its reviews are over the share of its source (see WithSource); any other error that the API
// server could not be asked.
func (g *Gate) Authenticate(ctx context.Context, token string) (*Caller, error) {
	now := g.now()
	h := tokenHash(token)
	if c := g.known.get(h, now); c != nil {
		return c, nil
	}
	exp := TokenExpiry(token)
	if !exp.IsZero() && !now.Before(exp) {
		return nil, ErrInvalidToken
	}
	// The calls in flight with one token share one check, one share of a budget and one review.
	u, err, _ := g.reviewing.Do(string(h[:]), func() (any, error) { return g.review(ctx, token) })
	if err != nil {
		return nil, err
	}
	until := now.Add(g.ttl.Token)
	if !exp.IsZero() && exp.Before(until) {
		until = exp
	}
	return g.known.add(h, u.(user.Info), until, now), nil
}

// review checks token and has the API server review it. A token whose signature checked out
// is confirmed within the confirmations' budget; tokens of other kinds, and every token while
// the signing keys cannot be had, within the budget shared by their sources. The budget is
// taken before the review cache, which runs its reviews on a context of its own.
func (g *Gate) review(ctx context.Context, token string) (user.Info, error) {
	budget := g.unverified
	switch err := g.local.verify(ctx, token); {
	case err == nil:
		budget = g.confirmations
	case errors.Is(err, ErrInvalidToken):
		return nil, ErrInvalidToken
	}
	release, err := budget.Take(ctx, SourceOf(ctx))
	if err != nil {
		return nil, err
	}
	defer release()
	if len(g.audiences) > 0 {
		// The review asks the API server to check the token's audiences; the cache keys on them.
		ctx = authenticator.WithAudiences(ctx, g.audiences)
	}
	resp, ok, err := g.tokens.AuthenticateToken(ctx, token)
	switch {
	case err != nil && reviewFailed(err):
		return nil, fmt.Errorf("reviewing the token: %w", err)
	case err != nil || !ok:
		// A TokenReview that answers "not authenticated" may say why, as a plain error.
		return nil, ErrInvalidToken
	}
	return resp.User, nil
}

// reviewFailed tells an error of the TokenReview call itself (the API server unreachable, or
// refusing the review) apart from the reason a review gives for not authenticating a token.
func reviewFailed(err error) bool {
	var netErr net.Error
	var status apierrors.APIStatus
	return errors.As(err, &netErr) || errors.As(err, &status) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// Authorize reports whether c may do verb on UpdateSessions in namespace, on the one named
// name when name is not empty, with the reason when not. For a named session it asks first
// whether c may do verb on every session of the namespace, as RBAC grants it in the common
// case: that decision is one cache entry per caller, namespace and verb however many sessions
// the caller keeps alive, so that the cache holds the working set of thousands of sessions.
// Only when that is denied is the session itself asked about (a Role with resourceNames).
func (g *Gate) Authorize(ctx context.Context, c *Caller, verb, namespace, name string) (bool, string, error) {
	return g.AuthorizeResource(ctx, c, verb, "", namespace, name)
}

// AuthorizeResource is Authorize about another resource of the API group, such as the virtual
// resource libraryitems that grants reading an item's content; an empty resource is
// updatesessions.
func (g *Gate) AuthorizeResource(ctx context.Context, c *Caller, verb, resource, namespace, name string) (bool, string, error) {
	allowed, reason, err := g.authorize(ctx, c, decisionKey{verb: verb, resource: resource, namespace: namespace})
	if err != nil || allowed || name == "" {
		return allowed, reason, err
	}
	return g.authorize(ctx, c, decisionKey{verb: verb, resource: resource, namespace: namespace, name: name})
}

// AuthorizePath reports whether c may do verb on the non-resource URL path, such as a
// scraper's get on /metrics, with the reason when not.
func (g *Gate) AuthorizePath(ctx context.Context, c *Caller, verb, path string) (bool, string, error) {
	return g.authorize(ctx, c, decisionKey{verb: verb, path: path})
}

// authorize answers from the caller's decisions while they stand (Lifetimes.Allow and .Deny),
// else asks the API server: once for all of the caller's calls that need the decision at the
// same time. (Without that, every call in flight when a busy client's decision lapses would
// send a SubjectAccessReview of its own: hundreds at once, every Lifetimes.Allow.)
func (g *Gate) authorize(ctx context.Context, c *Caller, k decisionKey) (bool, string, error) {
	if d, ok := c.decision(k, g.now()); ok {
		return d.allowed, d.reason, nil
	}
	shared, err, _ := c.reviews.Do(k.verb+"\x00"+k.resource+"\x00"+k.namespace+"\x00"+k.name+"\x00"+k.path, func() (any, error) {
		if d, ok := c.decision(k, g.now()); ok { // decided while this call waited its turn
			return d, nil
		}
		return g.decide(ctx, c, k)
	})
	if err != nil {
		return false, "", err
	}
	d := shared.(decision)
	return d.allowed, d.reason, nil
}

// decide asks the API server whether c may do k, and remembers the decision. A question c was
// allowed before is a refresh, asked on a client of its own within c's share of the refreshes;
// any other is c's first, asked within c's share of the first questions' budget. Past its
// share a question is refused with ErrThrottled: a caller asking about a new namespace on
// every call cannot make others wait.
func (g *Gate) decide(ctx context.Context, c *Caller, k decisionKey) (decision, error) {
	authz, budget := g.refreshes, g.refreshTimes
	if !c.wasAllowed(k) {
		authz, budget = g.firstDecisions, g.firstTimes
	}
	release, err := budget.Take(ctx, c.GetName())
	if err != nil {
		return decision{}, err
	}
	defer release()
	verdict, reason, err := authz.Authorize(ctx, k.attributes(c.Info))
	if err != nil {
		return decision{}, fmt.Errorf("reviewing access: %w", err)
	}
	now := g.now()
	d := decision{allowed: verdict == authorizer.DecisionAllow, reason: reason, until: now.Add(g.ttl.Deny)}
	if d.allowed {
		d.until = now.Add(g.ttl.Allow)
	}
	c.remember(k, d, now)
	return d, nil
}

// attributes are the SubjectAccessReview's attributes of k for u.
func (k decisionKey) attributes(u user.Info) authorizer.AttributesRecord {
	if k.path != "" {
		return authorizer.AttributesRecord{User: u, Verb: k.verb, Path: k.path}
	}
	resource := k.resource
	if resource == "" {
		resource = resourceName
	}
	return authorizer.AttributesRecord{
		User:            u,
		Verb:            k.verb,
		Namespace:       k.namespace,
		APIGroup:        v1alpha1.GroupVersion.Group,
		APIVersion:      v1alpha1.GroupVersion.Version,
		Resource:        resource,
		Name:            k.name,
		ResourceRequest: true,
	}
}

// HomeNamespace is the namespace of a service account's user, where it creates and lists
// sessions by default.
func HomeNamespace(u user.Info) (string, bool) {
	ns, _, err := serviceaccount.SplitUsername(u.GetName())
	return ns, err == nil
}
