package testenv

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// NewSession returns an UpdateSession with the given idle timeout (0: the operator's default).
func NewSession(namespace, name string, timeoutSeconds int32) *v1alpha1.UpdateSession {
	us := &v1alpha1.UpdateSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       v1alpha1.UpdateSessionSpec{LibraryItemID: "item-" + name},
	}
	if timeoutSeconds > 0 {
		us.Spec.ExpirationTimeoutSeconds = ptr.To(timeoutSeconds)
	}
	return us
}

// CreateShortLived creates us and returns at once, for a session with a timeout of a second or
// so: it may be initialised and deleted between two of CreateSession's polls, which then wait
// for an initialised status in vain.
func (e *Env) CreateShortLived(t testing.TB, us *v1alpha1.UpdateSession) {
	t.Helper()
	if err := e.Client.Create(context.Background(), us); err != nil {
		t.Fatalf("creating session %s: %v", us.Name, err)
	}
}

// CreateSession creates us and waits until the operator has initialised its status. It
// records how long that took (see LatenessBound).
func (e *Env) CreateSession(t testing.TB, us *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	t.Helper()
	start := time.Now()
	if err := e.Client.Create(context.Background(), us); err != nil {
		t.Fatalf("creating session %s: %v", us.Name, err)
	}
	cur := e.WaitFor(t, us, time.Minute, func(us *v1alpha1.UpdateSession) bool { return us.Status.ID != "" })
	e.ObserveRoundTrip(time.Since(start))
	return cur
}

// ObserveRoundTrip records how long one write took to come back through the operator: from a
// client's write until the reconciler's answer to it was visible.
func (e *Env) ObserveRoundTrip(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.slowestRoundTrip = max(e.slowestRoundTrip, d)
}

// LatenessBound is how late after its deadline a session may still be deleted in a test: an
// expiry takes the same path as the slowest round trip this run measured (work queue, write,
// watch), so the bound is a generous multiple of it, and never below minLateness. It asserts
// that nothing stays alive for long past its deadline, not how fast this machine is; tight
// figures are measured by make bench.
func (e *Env) LatenessBound() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return max(minLateness, latenessFactor*e.slowestRoundTrip)
}

const (
	minLateness    = 3 * time.Second
	latenessFactor = 10
)

// WaitFor polls the API server until the session satisfies cond, and returns it.
func (e *Env) WaitFor(t testing.TB, us *v1alpha1.UpdateSession, timeout time.Duration,
	cond func(*v1alpha1.UpdateSession) bool) *v1alpha1.UpdateSession {
	t.Helper()
	key := types.NamespacedName{Namespace: us.Namespace, Name: us.Name}
	var cur v1alpha1.UpdateSession
	var lastErr error
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, timeout, true,
		func(ctx context.Context) (bool, error) {
			cur = v1alpha1.UpdateSession{}
			lastErr = e.Client.Get(ctx, key, &cur)
			return lastErr == nil && cond(&cur), nil
		})
	if err != nil {
		t.Fatalf("session %s: condition not met within %s (last error: %v, status: %+v)", us.Name, timeout, lastErr, cur.Status)
	}
	return &cur
}
