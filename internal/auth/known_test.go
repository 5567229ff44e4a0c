package auth

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
)

func TestKnownTokensStandUntilTheirReviewRunsOut(t *testing.T) {
	k := knownTokens{ttl: TokenCacheTTL}
	now := time.Now()
	h := tokenHash("token")
	c := k.add(h, &user.DefaultInfo{Name: "uploader"}, now.Add(time.Minute), now)
	if k.get(h, now.Add(59*time.Second)) != c {
		t.Fatal("a token is not known within its review's lifetime")
	}
	if k.get(h, now.Add(time.Minute)) != nil {
		t.Fatal("a token is still known once its review ran out")
	}
	if k.get(tokenHash("other"), now) != nil {
		t.Fatal("an unknown token is known")
	}
	allow := decisionKey{verb: "update", namespace: "ns"}
	c.remember(allow, decision{allowed: true, until: now.Add(AllowCacheTTL)}, now)
	if d, ok := c.decision(allow, now.Add(AllowCacheTTL-time.Millisecond)); !ok || !d.allowed {
		t.Fatal("a decision does not stand within its TTL")
	}
	if _, ok := c.decision(allow, now.Add(AllowCacheTTL)); ok {
		t.Fatal("a decision stands past its TTL")
	}
}

func TestKnownTokensAreBounded(t *testing.T) {
	k := knownTokens{ttl: TokenCacheTTL}
	now := time.Now()
	for i := range maxKnownTokens + 10 {
		k.add(tokenHash(fmt.Sprint(i)), &user.DefaultInfo{}, now.Add(time.Minute), now)
	}
	if n := len(k.byHash); n > maxKnownTokens {
		t.Fatalf("%d tokens known, want at most %d", n, maxKnownTokens)
	}
	k.add(tokenHash("late"), &user.DefaultInfo{}, now.Add(2*TokenCacheTTL), now.Add(TokenCacheTTL+time.Second))
	if n := len(k.byHash); n != 1 {
		t.Fatalf("%d tokens known after the others ran out, want 1", n)
	}
}

// The hot path hashes a kilobyte-long token on every call; a copy of it per call is GC work.
func TestTokenHashDoesNotCopyTheToken(t *testing.T) {
	token := strings.Repeat("t", 1024)
	if allocs := testing.AllocsPerRun(100, func() { _ = tokenHash(token) }); allocs != 0 {
		t.Fatalf("tokenHash allocated %v times per call, want 0", allocs)
	}
	if tokenHash(token) != sha256.Sum256([]byte(token)) {
		t.Fatal("tokenHash is not the token's SHA-256")
	}
}
