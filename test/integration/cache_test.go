package integration

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestCallsNeverChangeTheCachedSession: the REST server hands its handlers the informer's own
// object, not a copy, so that a keep-alive that needs no write allocates nothing. Every
// operation, answered or refused, must leave that object exactly as it was: a change would
// corrupt the cache that the reconciler and every later call read.
func TestCallsNeverChangeTheCachedSession(t *testing.T) {
	ns := env.Namespace(t)
	op := env.StartOperator(t, ns, coalescingOptions())
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	informed := watchInformer(t, op.Cache)
	us := env.CreateSession(t, testenv.NewSession(ns, "shared", 600))
	item := op.RESTURL + apiBase + "/" + us.Status.ID
	for _, c := range []struct {
		method, url, body string
		want              int
	}{
		{http.MethodPost, item + "?action=keep-alive", "", http.StatusNoContent}, // coalesced
		{http.MethodPost, item + "?action=keep-alive", `{"client_progress": 10}`, http.StatusNoContent},
		{http.MethodPost, item + "?action=keep-alive", `{"client_progress": 5}`, http.StatusBadRequest},
		{http.MethodPatch, item, `{"warning_behavior": [{"type": "EXPIRED_CERTIFICATE", "ignored": true}]}`, http.StatusNoContent},
		{http.MethodPatch, item, `{"warning_behavior": [{"type": "NO_SUCH_WARNING"}]}`, http.StatusBadRequest},
		{http.MethodGet, item, "", http.StatusOK},
		{http.MethodDelete, item, "", http.StatusBadRequest}, // ACTIVE: not yet
		{http.MethodPost, item + "?action=complete", "", http.StatusNoContent},
		{http.MethodPost, item + "?action=keep-alive", "", http.StatusBadRequest}, // DONE
		{http.MethodPost, item + "?action=fail", "", http.StatusBadRequest},
		{http.MethodDelete, item, "", http.StatusNoContent},
	} {
		name := fmt.Sprintf("%s %s %s", c.method, c.url[len(item):], c.body)
		shared := informed.current(t, us)
		before := shared.DeepCopy()
		if resp := do(t, c.method, c.url, c.body, "Authorization", "Bearer "+token); resp.status != c.want {
			t.Fatalf("%s: %d %s, want %d", name, resp.status, resp.body, c.want)
		}
		if !equality.Semantic.DeepEqual(before, shared) {
			t.Errorf("%s changed the cached session:\nbefore %+v\nafter  %+v", name, before, shared)
		}
	}
}

// informerObjects records the very objects the operator's informer holds, as its event
// handlers receive them.
type informerObjects struct {
	mu     sync.Mutex
	latest map[string]*v1alpha1.UpdateSession
}

func watchInformer(t *testing.T, c cache.Cache) *informerObjects {
	t.Helper()
	informer, err := c.GetInformer(context.Background(), &v1alpha1.UpdateSession{})
	if err != nil {
		t.Fatal(err)
	}
	objs := &informerObjects{latest: map[string]*v1alpha1.UpdateSession{}}
	record := func(obj any) {
		if us, ok := obj.(*v1alpha1.UpdateSession); ok {
			objs.mu.Lock()
			defer objs.mu.Unlock()
			objs.latest[us.Name] = us
		}
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
	}); err != nil {
		t.Fatal(err)
	}
	return objs
}

// current returns the informer's object for us once the informer has caught up with the API
// server, so that the REST server finds that object rather than its own last write.
func (o *informerObjects) current(t *testing.T, us *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	t.Helper()
	var shared *v1alpha1.UpdateSession
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) {
			o.mu.Lock()
			shared = o.latest[us.Name]
			o.mu.Unlock()
			return shared != nil && shared.ResourceVersion == get(t, us).ResourceVersion, nil
		})
	if err != nil {
		t.Fatalf("the informer did not catch up with the API server: %v", err)
	}
	return shared
}
