package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/time/rate"
)

const testIssuer = "https://kubernetes.default.svc.cluster.local"

// signer signs tokens with a key of its own, under a key id.
type signer struct {
	key *rsa.PrivateKey
	kid string
}

func newSigner(t *testing.T, kid string) signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signer{key, kid}
}

func (s signer) sign(t *testing.T, claims jwt.Claims) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: s.key},
		(&jose.SignerOptions{}).WithHeader("kid", s.kid))
	if err != nil {
		t.Fatal(err)
	}
	token, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// publish serves the discovery document and the public keys of signers, counting fetches.
func publish(t *testing.T, fetches *atomic.Int32, signers ...signer) func(context.Context, string) ([]byte, error) {
	t.Helper()
	return func(_ context.Context, path string) ([]byte, error) {
		fetches.Add(1)
		if path == discoveryPath {
			return json.Marshal(map[string]string{"issuer": testIssuer, "jwks_uri": testIssuer + jwksPath})
		}
		var set jose.JSONWebKeySet
		for _, s := range signers {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: s.key.Public(), KeyID: s.kid, Algorithm: "RS256", Use: "sig"})
		}
		return json.Marshal(set)
	}
}

func TestLocalVerifier(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cluster, stranger := newSigner(t, "cluster-key"), newSigner(t, "stranger-key")
	impostor := signer{stranger.key, "cluster-key"} // the cluster's key id, another key
	valid := jwt.Claims{Issuer: testIssuer, Subject: "system:serviceaccount:ns:uploader",
		Audience: jwt.Audience{"api"}, Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute))}
	with := func(change func(*jwt.Claims)) jwt.Claims { c := valid; change(&c); return c }
	for _, tc := range []struct {
		name  string
		token func(t *testing.T) string
		want  error
	}{
		{"signed by the cluster", func(t *testing.T) string { return cluster.sign(t, valid) }, nil},
		{"legacy Secret token", func(t *testing.T) string {
			return cluster.sign(t, with(func(c *jwt.Claims) { c.Issuer, c.Audience, c.Expiry = legacyIssuer, nil, nil }))
		}, nil},
		{"signed by another key", func(t *testing.T) string { return stranger.sign(t, valid) }, ErrInvalidToken},
		{"another key under the cluster's key id", func(t *testing.T) string { return impostor.sign(t, valid) }, ErrInvalidToken},
		{"expired", func(t *testing.T) string {
			return cluster.sign(t, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-2 * clockLeeway)) }))
		}, ErrInvalidToken},
		{"not yet valid", func(t *testing.T) string {
			return cluster.sign(t, with(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(2 * clockLeeway)) }))
		}, ErrInvalidToken},
		{"for another audience", func(t *testing.T) string {
			return cluster.sign(t, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"vault"} }))
		}, ErrInvalidToken},
		{"of another issuer", func(t *testing.T) string {
			return stranger.sign(t, with(func(c *jwt.Claims) { c.Issuer = "https://accounts.example.com" }))
		}, errNotServiceAccount},
		{"opaque", func(*testing.T) string { return "d5a0e1c8b7f64d2a9c3e" }, errNotServiceAccount},
		{"dots", func(*testing.T) string { return strings.Repeat(".", 8<<10) }, errNotServiceAccount},
		{"three parts, not base64url", func(*testing.T) string { return "a b.c.d" }, errNotServiceAccount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fetches atomic.Int32
			v := newTestVerifier(publish(t, &fetches, cluster), []string{"api"}, now)
			if err := v.verify(context.Background(), tc.token(t)); !errors.Is(err, tc.want) {
				t.Fatalf("verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestLocalVerifierRefetchesKeysBounded: a token signed with a key id the set does not hold
// makes the verifier fetch the keys again (the API server may have rotated them), at most once
// a keyRefetchInterval however many such tokens come.
func TestLocalVerifierRefetchesKeysBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	old, rotated := newSigner(t, "old"), newSigner(t, "rotated")
	claims := jwt.Claims{Issuer: testIssuer, Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	var fetches atomic.Int32
	published := publish(t, &fetches, old)
	v := newTestVerifier(func(ctx context.Context, path string) ([]byte, error) { return published(ctx, path) }, nil, now)
	if err := v.verify(context.Background(), old.sign(t, claims)); err != nil {
		t.Fatalf("a token of the published key: %v", err)
	}
	published = publish(t, &fetches, old, rotated) // the API server rotates its keys
	v.refetch = rate.NewLimiter(rate.Every(keyRefetchInterval), 1)
	if err := v.verify(context.Background(), rotated.sign(t, claims)); err != nil {
		t.Fatalf("a token of a key published since: %v", err)
	}
	before := fetches.Load()
	forged := newSigner(t, "made-up")
	for range 1000 {
		if err := v.verify(context.Background(), forged.sign(t, claims)); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("a token of an unknown key id: %v", err)
		}
	}
	if n := fetches.Load() - before; n > 2 {
		t.Fatalf("1,000 tokens with an unknown key id fetched the keys %d times, want at most once", n/2)
	}
}

// TestJWTShapeCheckedBeforeSplitting: a token of 8 KiB of dots costs no allocation.
func TestJWTShapeCheckedBeforeSplitting(t *testing.T) {
	dots := strings.Repeat(".", 8<<10)
	if n := testing.AllocsPerRun(100, func() { TokenExpiry(dots) }); n > 0 {
		t.Fatalf("TokenExpiry of 8 KiB of dots: %.0f allocations, want 0", n)
	}
}

func newTestVerifier(fetch func(context.Context, string) ([]byte, error), audiences []string, now time.Time) *localVerifier {
	return &localVerifier{fetch: fetch, audiences: audiences, now: func() time.Time { return now },
		refetch: rate.NewLimiter(rate.Every(keyRefetchInterval), 1)}
}

// TestOwnAudiencesOnlyFromATokenOfTheIssuer: the operator's own token sets the audience callers'
// tokens must name only when the API server issued it; a kubeconfig's OIDC token does not.
func TestOwnAudiencesOnlyFromATokenOfTheIssuer(t *testing.T) {
	s := newSigner(t, "k")
	expiry := jwt.NewNumericDate(time.Now().Add(time.Hour))
	own := s.sign(t, jwt.Claims{Issuer: testIssuer, Audience: jwt.Audience{"api"}, Expiry: expiry})
	oidc := s.sign(t, jwt.Claims{Issuer: "https://accounts.example.com", Audience: jwt.Audience{"kubectl"}, Expiry: expiry})
	if got := ownAudiences(own, testIssuer); len(got) != 1 || got[0] != "api" {
		t.Errorf("audiences of a service-account token of the issuer = %v, want [api]", got)
	}
	if got := ownAudiences(oidc, testIssuer); got != nil {
		t.Errorf("audiences of an OIDC token = %v, want none", got)
	}
	if got := ownAudiences("", testIssuer); got != nil {
		t.Errorf("audiences of no token = %v, want none", got)
	}
}
