package integration

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// failNextStatusWrite makes the operator's next write of a session's status fail with a 500,
// once armed, as an API server that failed mid-call would.
type failNextStatusWrite struct {
	next  http.RoundTripper
	armed atomic.Bool
}

func (f *failNextStatusWrite) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && strings.HasSuffix(req.URL.Path, "/status") && f.armed.CompareAndSwap(true, false) {
		body := `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected failure","reason":"InternalError","code":500}`
		return &http.Response{StatusCode: http.StatusInternalServerError, Request: req,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}, nil
	}
	return f.next.RoundTrip(req)
}

// TestChangeThatHappenedAnswersSuccess: a create whose session exists answers its id even if
// initialising the status failed, and an update that changed the spec answers success even if
// recording the activity afterwards failed.
func TestChangeThatHappenedAnswersSuccess(t *testing.T) {
	ns := env.Namespace(t)
	inject := &failNextStatusWrite{}
	cfg := rest.CopyConfig(env.CP.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { inject.next = rt; return inject }
	op := env.StartOperatorWith(t, ns, operator.Options{
		Policy: session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour}, Concurrency: 2,
	}, cfg, nil)
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token

	inject.armed.Store(true)
	id := apiURLs.createWith(t, op.RESTURL, token, `{"library_item_id": "created-anyway"}`)
	us := env.WaitFor(t, byID(t, ns, id), time.Minute, func(us *v1alpha1.UpdateSession) bool { return us.Status.ID == id })
	if inject.armed.Load() {
		t.Fatal("no status write failed: the test injected nothing")
	}

	inject.armed.Store(true)
	noContent(t, do(t, "PATCH", apiURLs.item(op.RESTURL, id),
		`{"warning_behavior": [{"type": "SELF_SIGNED_CERTIFICATE", "ignored": true}]}`, bearer(token)...))
	if inject.armed.Load() {
		t.Fatal("no status write failed: the test injected nothing")
	}
	if wb := byName(t, us).Spec.WarningBehavior; len(wb) != 1 || !wb[0].Ignored {
		t.Fatalf("warningBehavior after the update: %+v", wb)
	}
}
