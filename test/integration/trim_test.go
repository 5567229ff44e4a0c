package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/rest"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestCacheHoldsOnlyWhatTheOperatorReads: a session with a large foreign annotation, a label
// and managedFields is held in the operator's cache without them, and the operator's writes
// (status by a keep-alive, spec by an update, the state by complete) leave them as they are in
// the API server.
func TestCacheHoldsOnlyWhatTheOperatorReads(t *testing.T) {
	ns := env.Namespace(t)
	op := env.StartOperator(t, ns, quietOptions())
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	informed := watchInformer(t, op.Cache)
	big := strings.Repeat("x", 200<<10)
	us := testenv.NewSession(ns, "annotated", 3600)
	us.Annotations = map[string]string{"example.com/big": big}
	us.Labels = map[string]string{"example.com/team": "a"}
	us = env.CreateSession(t, us)
	if len(get(t, us).ManagedFields) == 0 {
		t.Fatal("the API server keeps no managedFields: the test shows nothing")
	}
	item := op.RESTURL + apiBase + "/" + us.Status.ID
	for _, c := range []struct{ method, url, body string }{
		{http.MethodPost, item + "?action=keep-alive", `{"client_progress": 10}`},
		{http.MethodPatch, item, `{"warning_behavior": [{"type": "EXPIRED_CERTIFICATE", "ignored": true}]}`},
		{http.MethodPost, item + "?action=complete", ""},
	} {
		noContent(t, do(t, c.method, c.url, c.body, bearer(token)...))
	}
	shared := informed.current(t, us)
	if shared.Annotations != nil || shared.Labels != nil || shared.ManagedFields != nil {
		t.Errorf("the cache holds annotations %d, labels %v, managedFields %d; want none",
			len(shared.Annotations), shared.Labels, len(shared.ManagedFields))
	}
	live := get(t, us)
	if live.Status.State != v1alpha1.StateDone || len(live.Spec.WarningBehavior) != 1 || live.Status.ClientProgress != 10 {
		t.Fatalf("the operator's writes did not land: spec %+v, status %+v", live.Spec, live.Status)
	}
	if live.Annotations["example.com/big"] != big || live.Labels["example.com/team"] != "a" {
		t.Errorf("the operator's writes dropped the annotation (%d bytes) or the label (%v)",
			len(live.Annotations["example.com/big"]), live.Labels)
	}
}

// TestUpdateThatChangesNothingWritesNothing: an update that sets the warning_behavior the
// session already has costs the API server no write while lastActivity is fresh, as a
// keep-alive would; one that changes it writes.
func TestUpdateThatChangesNothingWritesNothing(t *testing.T) {
	ns := env.Namespace(t)
	op := env.StartOperator(t, ns, quietOptions())
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	informed := watchInformer(t, op.Cache)
	us := env.CreateSession(t, testenv.NewSession(ns, "unchanged", 3600))
	item := op.RESTURL + apiBase + "/" + us.Status.ID
	update := `{"warning_behavior": [{"type": "EXPIRED_CERTIFICATE", "ignored": true}]}`
	noContent(t, do(t, http.MethodPatch, item, update, bearer(token)...))
	informed.current(t, us)

	// The session's own resourceVersion tells whether anything was written to it: a count of
	// the API server's writes would also count those of other tests' operators still stopping.
	// The reconciler writes the Active condition's observedGeneration after the first update:
	// wait for it, so that what follows is measured alone.
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) {
			cur := get(t, us)
			c := meta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionActive)
			return c != nil && c.ObservedGeneration == cur.Generation, nil
		}); err != nil {
		t.Fatal("the reconciler never observed the first update")
	}
	before := get(t, us).ResourceVersion
	noContent(t, do(t, http.MethodPatch, item, update, bearer(token)...))
	if after := get(t, us).ResourceVersion; after != before {
		t.Errorf("an update that changes nothing wrote the session: resourceVersion %s, was %s", after, before)
	}
	noContent(t, do(t, http.MethodPatch, item, `{"warning_behavior": []}`, bearer(token)...))
	if after := get(t, us).ResourceVersion; after == before {
		t.Error("an update that changes the warning behavior wrote nothing")
	}
	if wb := get(t, us).Spec.WarningBehavior; len(wb) != 0 {
		t.Errorf("warning behavior after clearing it: %+v", wb)
	}
}

// TestReadBudgetPerCaller: get and list read the API server; a caller past its budget of such
// reads gets SERVICE_UNAVAILABLE with Retry-After, while another caller is served, and its
// own calls answered from the cache (a keep-alive) still are.
func TestReadBudgetPerCaller(t *testing.T) {
	const burst = 3
	ns := env.Namespace(t)
	opts := quietOptions()
	opts.RESTReads = rest.ReadLimits{QPS: 0.001, Burst: burst} // no refill within the test
	op := env.StartOperator(t, ns, opts)
	greedy := env.ServiceAccount(t, ns, "greedy", testenv.EditorVerbs...).Token
	other := env.ServiceAccount(t, ns, "other", testenv.EditorVerbs...).Token
	us := env.CreateSession(t, testenv.NewSession(ns, "read", 3600))
	item := op.RESTURL + apiBase + "/" + us.Status.ID

	for i := range burst {
		url := item
		if i%2 == 1 {
			url = op.RESTURL + apiBase // list
		}
		if resp := do(t, http.MethodGet, url, "", bearer(greedy)...); resp.status != http.StatusOK {
			t.Fatalf("read %d within the budget: %d %s", i+1, resp.status, resp.body)
		}
	}
	resp := do(t, http.MethodGet, item, "", bearer(greedy)...)
	refused(t, resp, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	if resp.header.Get("Retry-After") == "" {
		t.Error("the refusal has no Retry-After")
	}
	refused(t, do(t, http.MethodGet, op.RESTURL+apiBase, "", bearer(greedy)...), http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	if resp := do(t, http.MethodGet, item, "", bearer(other)...); resp.status != http.StatusOK {
		t.Fatalf("another caller's get: %d %s, want 200", resp.status, resp.body)
	}
	noContent(t, do(t, http.MethodPost, item+"?action=keep-alive", "", bearer(greedy)...))
}

// quietOptions run the operator with a keep-alive window long enough that a busy machine
// never outlasts it within a test.
func quietOptions() operator.Options {
	return operator.Options{
		Policy:      session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour, MaxCoalesce: time.Minute},
		Concurrency: 4,
	}
}
