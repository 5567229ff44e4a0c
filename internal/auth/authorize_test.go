package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// TestConcurrentCallsShareOneReview: the calls in flight when a busy caller's decision is
// missing or has lapsed cost one SubjectAccessReview between them, not one each.
func TestConcurrentCallsShareOneReview(t *testing.T) {
	var reviews atomic.Int32
	g := &Gate{authorizer: authorizer.AuthorizerFunc(func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
		reviews.Add(1)
		time.Sleep(50 * time.Millisecond) // a review takes a while: the other calls arrive meanwhile
		return authorizer.DecisionAllow, "", nil
	})}
	c := &Caller{Info: &user.DefaultInfo{Name: "system:serviceaccount:ns:uploader"}, decisions: map[decisionKey]decision{}}
	authorizeAll := func() {
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				if allowed, _, err := g.Authorize(context.Background(), c, "update", "ns", "session"); err != nil || !allowed {
					t.Errorf("Authorize = %v, %v; want allowed", allowed, err)
				}
			})
		}
		wg.Wait()
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
