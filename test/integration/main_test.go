// Package integration drives the operator's REST API over real HTTP, against a real
// kube-apiserver and etcd, and asserts through a direct client.
package integration

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

const (
	apiBase  = "/api/content/library/item/update-session"
	restBase = "/rest/com/vmware/content/library/item/update-session"
)

// tokens maps the URL of each test's REST server to the token its calls carry by default.
var tokens = map[string]string{}

// startOperator runs the operator for ns with the given default session timeout (sessions are
// kept an hour once they end), creates an "uploader" service account there with the verbs of
// the editor role, and makes do() call as it. It returns the REST server's URL.
func startOperator(t *testing.T, ns string, timeout time.Duration) string {
	t.Helper()
	op := env.StartOperator(t, ns, startOptions(timeout))
	tokens[op.RESTURL] = env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	env.GrantLibraryItems(t, ns, "uploader")
	contentStores[op.RESTURL] = op.ContentStore
	t.Cleanup(func() {
		delete(tokens, op.RESTURL)
		delete(contentStores, op.RESTURL)
	})
	return op.RESTURL
}

// contentStores maps the URL of each test's REST server to its operator's content store.
var contentStores = map[string]string{}

// startOptions are the options startOperator runs the operator with: another replica of the
// same operator runs with them too.
func startOptions(timeout time.Duration) operator.Options {
	return operator.Options{
		Policy:      session.Policy{DefaultTimeout: timeout, TerminalRetention: time.Hour},
		Concurrency: 4,
	}
}

// localClient calls the tests' own REST servers, over HTTPS too: their certificates are
// self-signed, as a test's are.
var localClient = &http.Client{Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the tests' own servers
}}

// response is what the server answered.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with an optional JSON body, as the uploader of the server's test unless
// the header pairs (key, value) name other credentials; an empty value removes a header.
func do(t *testing.T, method, url, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for server, token := range tokens {
		if strings.HasPrefix(url, server) {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "vmware-api-session-id" {
			req.Header.Del("Authorization")
		}
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := localClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// errorType returns the vAPI error type of an error response in either form: "NOT_FOUND" from
// {"error_type":...} and "not_found" from {"type":"com.vmware.vapi.std.errors.not_found"}
// both come back as NOT_FOUND. It fails the test when the body is not a vAPI error.
func (r response) errorType(t *testing.T) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error with Content-Type %q, body %s", ct, r.body)
	}
	var body struct {
		ErrorType string `json:"error_type"`
		Type      string `json:"type"`
		Messages  []any  `json:"messages"`
		Value     struct {
			Messages []any `json:"messages"`
		} `json:"value"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body is not JSON: %s", r.body)
	}
	if body.ErrorType != "" && len(body.Messages) > 0 {
		return body.ErrorType
	}
	if name, ok := strings.CutPrefix(body.Type, "com.vmware.vapi.std.errors."); ok && len(body.Value.Messages) > 0 {
		return strings.ToUpper(name)
	}
	t.Fatalf("not a vAPI error body: %s", r.body)
	return ""
}

// electing makes the replicas it is given to elect a leader by a lease in namespace ns, which
// a replica that stops releases at once.
func electing(ns string) func(*ctrl.Options) {
	return func(o *ctrl.Options) {
		o.LeaderElection = true
		o.LeaderElectionID = "lease-" + ns
		o.LeaderElectionNamespace = ns
		o.LeaderElectionReleaseOnCancel = true
	}
}

// leaderOf waits until a or b, replicas electing a leader, leads, and returns it and the other.
func leaderOf(t *testing.T, a, b *testenv.Operator) (leader, follower *testenv.Operator) {
	t.Helper()
	select {
	case <-a.Elected:
		return a, b
	case <-b.Elected:
		return b, a
	case <-time.After(15 * time.Second):
		t.Fatal("no replica became leader")
	}
	return nil, nil
}
