package testenv

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
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

// CreateSession creates us and waits until the operator has initialised its status.
func (e *Env) CreateSession(t testing.TB, us *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	t.Helper()
	if err := e.Client.Create(context.Background(), us); err != nil {
		t.Fatalf("creating session %s: %v", us.Name, err)
	}
	return e.WaitFor(t, us, 10*time.Second, func(us *v1alpha1.UpdateSession) bool { return us.Status.ID != "" })
}

// WaitFor polls the API server until the session satisfies cond, and returns it.
func (e *Env) WaitFor(t testing.TB, us *v1alpha1.UpdateSession, timeout time.Duration,
	cond func(*v1alpha1.UpdateSession) bool) *v1alpha1.UpdateSession {
	t.Helper()
	key := types.NamespacedName{Namespace: us.Namespace, Name: us.Name}
	deadline := time.Now().Add(timeout)
	for {
		var cur v1alpha1.UpdateSession
		err := e.Client.Get(context.Background(), key, &cur)
		if err == nil && cond(&cur) {
			return &cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s: condition not met within %s (last error: %v, status: %+v)", us.Name, timeout, err, cur.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
