package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// TestConcurrentCallsShareOneReview: the calls in flight when a busy caller's decision is
// missing or has lapsed cost one SubjectAccessReview between them, not one each.
func TestConcurrentCallsShareOneReview(t *testing.T) {
	var reviews atomic.Int32
	g := testGate(nil, authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
		reviews.Add(1)
		time.Sleep(50 * time.Millisecond) // a review takes a while: the other calls arrive meanwhile
		return authorizer.DecisionAllow, "", nil
	}))
	c := &Caller{Info: &user.DefaultInfo{Name: "system:serviceaccount:ns:uploader"}, decisions: map[decisionKey]decision{}}
	authorizeAll := func() {
		atOnce(64, func() {
			if allowed, _, err := g.Authorize(context.Background(), c, "update", "ns", "session"); err != nil || !allowed {
				t.Errorf("Authorize = %v, %v; want allowed", allowed, err)
			}
		})
	}
	authorizeAll()
	if n := reviews.Load(); n != 1 {
		t.Fatalf("64 concurrent calls of an unknown decision cost %d reviews, want 1", n)
	}
	// The decision lapses: the next calls in flight share one review again.
	c.mu.Lock()
	for k, d := range c.decisions {
		d.until = time.Now().Add(-time.Second)
		c.decisions[k] = d
	}
	c.mu.Unlock()
	authorizeAll()
	if n := reviews.Load(); n != 2 {
		t.Fatalf("64 concurrent calls of a lapsed decision cost %d more reviews, want 1", n-1)
	}
}

// TestCallsAfterATokenReviewShareOneReview: the calls in flight when a busy caller's token is
// unknown or its review has lapsed wait on one TokenReview, and then share one caller: one
// SubjectAccessReview between them, not one each, and none after a lapsed token review, whose
// caller hands on the decisions that still stand.
func TestCallsAfterATokenReviewShareOneReview(t *testing.T) {
	var tokenReviews, accessReviews atomic.Int32
	review := authenticator.TokenFunc(func(context.Context, string) (*authenticator.Response, bool, error) {
		tokenReviews.Add(1)
		time.Sleep(50 * time.Millisecond) // the other calls arrive meanwhile
		return &authenticator.Response{User: &user.DefaultInfo{Name: "system:serviceaccount:ns:uploader"}}, true, nil
	})
	g := testGate(cache.New(review, false, 0, time.Second),
		authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
			accessReviews.Add(1)
			return authorizer.DecisionAllow, "", nil
		}))
	callAll := func() {
		atOnce(64, func() {
			c, err := g.Authenticate(context.Background(), "token")
			if err != nil {
				t.Errorf("Authenticate: %v", err)
				return
			}
			if allowed, _, err := g.Authorize(context.Background(), c, "update", "ns", "session"); err != nil || !allowed {
				t.Errorf("Authorize = %v, %v; want allowed", allowed, err)
			}
		})
	}
	callAll()
	if tr, sar := tokenReviews.Load(), accessReviews.Load(); tr != 1 || sar != 1 {
		t.Fatalf("64 concurrent calls with an unknown token cost %d TokenReviews and %d SubjectAccessReviews, want 1 and 1", tr, sar)
	}
	// The token's review lapses: the next calls in flight share one of each again.
	g.known.mu.Lock()
	for _, c := range g.known.byHash {
		c.until = time.Now().Add(-time.Second)
	}
	g.known.mu.Unlock()
	callAll()
	if tr, sar := tokenReviews.Load()-1, accessReviews.Load()-1; tr != 1 || sar != 0 {
		t.Fatalf("64 concurrent calls with a lapsed token cost %d TokenReviews and %d SubjectAccessReviews, want 1 and 0", tr, sar)
	}
}

// atOnce runs f from n goroutines at once and waits for them all: the calls in flight of a busy
// client.
func atOnce(n int, f func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(f)
	}
	wg.Wait()
}

// testGate is a Gate of tokens and authz whose signing keys cannot be had, so that every
// token is reviewed by tokens, as a cluster without service-account issuer discovery has it.
func testGate(tokens authenticator.Token, authz authorizer.Authorizer) *Gate {
	ttl := Lifetimes{}.withDefaults()
	return &Gate{
		known: knownTokens{ttl: ttl.Token},
		local: &localVerifier{
			fetch:   func(context.Context, string) ([]byte, error) { return nil, errors.New("no discovery") },
			refetch: rate.NewLimiter(rate.Every(time.Hour), 1),
			now:     time.Now,
		},
		tokens:         tokens,
		confirmations:  NewFairLimiter(DefaultConfirmations, nil),
		unverified:     NewFairLimiter(FairShare{QPS: 1000, Burst: 1000, Concurrency: 64}, nil),
		refreshes:      authz,
		firstDecisions: authz,
		firstTimes:     NewFairLimiter(DefaultFirstDecisions, nil),
		refreshTimes:   NewFairLimiter(DefaultRefreshes, nil),
		ttl:            ttl,
		now:            time.Now,
	}
}
