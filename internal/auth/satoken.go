package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	"k8s.io/client-go/rest"
)

// +kubebuilder:rbac:urls=/.well-known/openid-configuration;/openid/v1/jwks,verbs=get

// legacyIssuer is the issuer of the service-account tokens kept in Secrets before bound tokens.
const legacyIssuer = "kubernetes/serviceaccount"

// Paths of service-account issuer discovery, served by the API server itself.
const (
	discoveryPath = "/.well-known/openid-configuration"
	jwksPath      = "/openid/v1/jwks"
)

// keyRefetchInterval bounds how often a token signed with a key the set does not hold makes the
// verifier fetch the keys again: the API server rotates its keys rarely, and a flood of tokens
// with made-up key ids must not become a flood of fetches.
const keyRefetchInterval = 10 * time.Second

// clockLeeway is the skew allowed between the API server's clock and this replica's when
// checking a token's exp and nbf.
const clockLeeway = time.Minute

// signatureAlgorithms are those the API server signs service-account tokens with.
var signatureAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512,
}

// Outcomes of localVerifier.verify.
var (
	// errNotServiceAccount: the token is not a JWT of this cluster's service-account issuer (an
	// opaque token, an OIDC provider's): only a TokenReview can tell.
	errNotServiceAccount = errors.New("not a service-account token")
	// errKeysUnavailable: the API server's signing keys could not be fetched.
	errKeysUnavailable = errors.New("the service-account signing keys are not available")
)

// localVerifier checks service-account tokens with the keys the API server publishes for
// service-account issuer discovery: issuer, audience, expiry and signature, without a request
// to the API server. A token that fails is refused at no cost; one that passes is still
// confirmed by a TokenReview, which alone knows whether it was revoked or its bound object
// deleted.
type localVerifier struct {
	fetch func(ctx context.Context, path string) ([]byte, error)
	// ownToken is the operator's own token, if it has one: when it is a service-account token of
	// this cluster, its audiences are the API server's, which callers' tokens must name.
	ownToken string
	now      func() time.Time

	flight  singleflight.Group
	loading atomic.Bool
	refetch *rate.Limiter

	mu     sync.RWMutex
	issuer string
	keys   jose.JSONWebKeySet
	// audiences a token must name one of; empty leaves the audience to the TokenReview.
	audiences []string
}

// newLocalVerifier returns a verifier that fetches discovery documents with client, expecting
// one of audiences in a token's aud claim; without audiences, those of ownToken when it is a
// service-account token of this cluster, else none (the audience is left to the TokenReview).
func newLocalVerifier(client rest.Interface, audiences []string, ownToken string, now func() time.Time) *localVerifier {
	return &localVerifier{
		fetch: func(ctx context.Context, path string) ([]byte, error) {
			return client.Get().AbsPath(path).DoRaw(ctx)
		},
		audiences: audiences,
		ownToken:  ownToken,
		now:       now,
		refetch:   rate.NewLimiter(rate.Every(keyRefetchInterval), 1),
	}
}

// verify returns nil when token is a service-account token of this cluster whose signature,
// issuer, audience and validity period check out; ErrInvalidToken when it claims to be one and
// is not; errNotServiceAccount when it does not claim to be one; errKeysUnavailable when the
// keys cannot be had.
func (v *localVerifier) verify(ctx context.Context, token string) error {
	parsed, unverified, ok := parseUnverified(token)
	if !ok {
		return errNotServiceAccount
	}
	issuer, err := v.issuerOf(ctx)
	if err != nil {
		return err
	}
	if unverified.Issuer != issuer && unverified.Issuer != legacyIssuer {
		return errNotServiceAccount
	}
	key, err := v.key(ctx, parsed.Headers[0].KeyID)
	if err != nil {
		return err
	}
	var claims jwt.Claims
	if key == nil || parsed.Claims(key.Key, &claims) != nil {
		return ErrInvalidToken
	}
	if claims.ValidateWithLeeway(jwt.Expected{Issuer: unverified.Issuer, Time: v.now()}, clockLeeway) != nil {
		return ErrInvalidToken
	}
	if audiences := v.expectedAudiences(); claims.Issuer != legacyIssuer && len(audiences) > 0 &&
		!slices.ContainsFunc(audiences, func(a string) bool { return claims.Audience.Contains(a) }) {
		return ErrInvalidToken
	}
	return nil
}

func (v *localVerifier) expectedAudiences() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.audiences
}

// jwtShaped reports whether token has the shape of a compact JWS, checked before anything
// splits it: three non-empty base64url parts. A token of thousands of dots is refused here,
// without the allocations splitting it would cost.
func jwtShaped(token string) bool {
	if strings.Count(token, ".") != 2 {
		return false
	}
	for i := range len(token) {
		if !base64URLOrDot(token[i]) {
			return false
		}
	}
	header, tail, _ := strings.Cut(token, ".")
	payload, signature, _ := strings.Cut(tail, ".")
	return header != "" && payload != "" && signature != ""
}

// base64URLOrDot reports whether c is a letter of the base64url alphabet, or the dot between
// a JWS's parts.
func base64URLOrDot(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// issuerOf returns the service-account issuer, fetching the discovery document until a fetch
// succeeds, at most once a keyRefetchInterval.
func (v *localVerifier) issuerOf(ctx context.Context) (string, error) {
	v.mu.RLock()
	issuer := v.issuer
	v.mu.RUnlock()
	if issuer != "" {
		return issuer, nil
	}
	if !v.refetch.Allow() { // the last fetch failed moments ago
		return "", errKeysUnavailable
	}
	if err := v.load(ctx); err != nil {
		return "", err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.issuer, nil
}

// key returns the key of kid (any key when kid is empty and the set holds one), fetching the
// set again, at most once a keyRefetchInterval, when it does not hold kid: the API server may
// have rotated its keys. A call that finds a fetch under way waits for it. nil: no such key in
// a set at most keyRefetchInterval old.
func (v *localVerifier) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if k := v.lookup(kid); k != nil {
		return k, nil
	}
	if !v.loading.Load() && !v.refetch.Allow() {
		return nil, nil
	}
	if err := v.load(ctx); err != nil {
		return nil, err
	}
	return v.lookup(kid), nil
}

func (v *localVerifier) lookup(kid string) *jose.JSONWebKey {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if kid == "" && len(v.keys.Keys) == 1 {
		return &v.keys.Keys[0]
	}
	if keys := v.keys.Key(kid); len(keys) > 0 && kid != "" {
		return &keys[0]
	}
	return nil
}

// load fetches the discovery document and the key set, once for all the callers that need
// them at the same time. The fetch outlives the call that starts it, so that a caller that
// hangs up at once cannot make it fail for everyone.
func (v *localVerifier) load(ctx context.Context) error {
	_, err, _ := v.flight.Do("load", func() (any, error) {
		v.loading.Store(true)
		defer v.loading.Store(false)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reviewTimeout)
		defer cancel()
		doc, err := v.fetch(ctx, discoveryPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errKeysUnavailable, err)
		}
		var discovery struct {
			Issuer string `json:"issuer"`
		}
		if err := json.Unmarshal(doc, &discovery); err != nil || discovery.Issuer == "" {
			return nil, fmt.Errorf("%w: %s names no issuer", errKeysUnavailable, discoveryPath)
		}
		raw, err := v.fetch(ctx, jwksPath)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errKeysUnavailable, err)
		}
		var keys jose.JSONWebKeySet
		if err := json.Unmarshal(raw, &keys); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errKeysUnavailable, jwksPath, err)
		}
		v.mu.Lock()
		v.issuer, v.keys = discovery.Issuer, keys
		if len(v.audiences) == 0 {
			v.audiences = ownAudiences(v.ownToken, discovery.Issuer)
		}
		v.mu.Unlock()
		return nil, nil
	})
	return err
}

// ownAudiences returns the aud claim of the operator's own token when it is a token of issuer
// (read without checking its signature: it is the operator's own, not a caller's); nil for a
// token of any other kind, such as an OIDC provider's in a kubeconfig.
func ownAudiences(token, issuer string) []string {
	_, claims, ok := parseUnverified(token)
	if !ok || claims.Issuer != issuer {
		return nil
	}
	return claims.Audience
}

// parseUnverified parses a JWT and its claims without checking its signature; false when token
// is not one.
func parseUnverified(token string) (*jwt.JSONWebToken, jwt.Claims, bool) {
	if !jwtShaped(token) {
		return nil, jwt.Claims{}, false
	}
	parsed, err := jwt.ParseSigned(token, signatureAlgorithms)
	if err != nil {
		return nil, jwt.Claims{}, false
	}
	var claims jwt.Claims
	if parsed.UnsafeClaimsWithoutVerification(&claims) != nil {
		return nil, jwt.Claims{}, false
	}
	return parsed, claims, true
}
