package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

func keepAliveURL(base, id string) string {
	return base + apiBase + "/" + id + "?action=keep-alive"
}

func restKeepAliveURL(base, id string) string {
	return base + restBase + "/id:" + id + "?~action=keep-alive"
}

func TestKeepAliveMovesActivityAndProgress(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	us := env.CreateSession(t, testenv.NewSession(ns, "upload", 600))
	before := time.Now()

	resp := do(t, http.MethodPost, keepAliveURL(srv, us.Status.ID), `{"client_progress": 40}`)

	if resp.status != http.StatusNoContent || len(resp.body) != 0 {
		t.Fatalf("keep-alive: %d %s, want 204 and no body", resp.status, resp.body)
	}
	got := get(t, us)
	if got.Status.ClientProgress != 40 {
		t.Errorf("clientProgress = %d, want 40", got.Status.ClientProgress)
	}
	last := got.Status.LastActivity.Time
	if last.Before(before.Truncate(time.Microsecond)) || last.After(time.Now()) {
		t.Errorf("lastActivity = %v, want the time of the keep-alive (after %v)", last, before)
	}
	if want := last.Add(600 * time.Second); !got.Status.ExpirationTime.Time.Equal(want) {
		t.Errorf("expirationTime = %v, want lastActivity + 600s = %v", got.Status.ExpirationTime, want)
	}
}

func TestKeepAliveWithoutBody(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	us := env.CreateSession(t, testenv.NewSession(ns, "upload", 0))

	for _, tc := range []struct {
		name, url, body string
		form            urlForm
	}{
		{"api form, no body", keepAliveURL(srv, us.Status.ID), "", apiURLs},
		{"rest form, empty JSON body as govmomi sends it", restKeepAliveURL(srv, us.Status.ID), " ", restURLs},
		{"rest form, progress", restKeepAliveURL(srv, us.Status.ID), `{"client_progress": 55}`, restURLs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := get(t, us).Status.LastActivity.Time
			tc.form.ok(t, do(t, http.MethodPost, tc.url, tc.body, "Content-Type", "application/json"))
			if now := get(t, us).Status.LastActivity.Time; !now.After(prev) {
				t.Errorf("lastActivity did not move: %v, was %v", now, prev)
			}
		})
	}
	if p := get(t, us).Status.ClientProgress; p != 55 {
		t.Errorf("clientProgress = %d, want 55", p)
	}
}

func TestKeptAliveSessionOutlivesItsTimeout(t *testing.T) {
	ns := env.Namespace(t)
	deletions := env.WatchDeletions(t, ns)
	srv := startOperator(t, ns, time.Hour)
	kept := env.CreateSession(t, testenv.NewSession(ns, "kept", 3))
	var vouched time.Time // the deadline the latest keep-alive vouches for
	keepAlive := func() {
		sent := time.Now()
		if resp := do(t, http.MethodPost, keepAliveURL(srv, kept.Status.ID), ""); resp.status != http.StatusNoContent {
			t.Fatalf("keep-alive: %d %s", resp.status, resp.body)
		}
		vouched = sent.Add(3 * time.Second)
	}
	keepAlive()
	idle := env.CreateSession(t, testenv.NewSession(ns, "idle", 3))

	for until := idle.Status.ExpirationTime.Add(time.Second); time.Now().Before(until); {
		time.Sleep(500 * time.Millisecond) // a client's keep-alive period, not a wait for a condition
		keepAlive()
	}
	deletions.Wait(t, "idle", time.Minute)
	if at, gone := deletions.At("kept"); gone && at.Before(vouched) {
		t.Fatalf("a session kept alive every 500ms with a 3s timeout was deleted at %v, before %v", at, vouched)
	}
	if at := deletions.Wait(t, "kept", time.Minute); at.Before(vouched) { // once the client stops, it expires
		t.Fatalf("kept deleted at %v, before %v", at, vouched)
	}
}

func TestKeepAliveErrors(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	active := env.CreateSession(t, testenv.NewSession(ns, "active", 0))
	keepAlive(t, srv, active, `{"client_progress": 50}`)
	done := env.CreateSession(t, testenv.NewSession(ns, "done", 0))
	finish(t, done, v1alpha1.StateDone)

	cases := []struct {
		name       string
		id         string
		body       string
		wantStatus int
		wantType   string
	}{
		{"unknown id", "5b1e3c1a-0000-4000-8000-000000000000", "", 404, "NOT_FOUND"},
		{"session not ACTIVE", done.Status.ID, "", 400, "NOT_ALLOWED_IN_CURRENT_STATE"},
		{"progress above 100", active.Status.ID, `{"client_progress": 101}`, 400, "INVALID_ARGUMENT"},
		{"negative progress", active.Status.ID, `{"client_progress": -1}`, 400, "INVALID_ARGUMENT"},
		{"progress lower than the current one", active.Status.ID, `{"client_progress": 49}`, 400, "INVALID_ARGUMENT"},
		{"malformed JSON", active.Status.ID, `{"client_progress": `, 400, "INVALID_ARGUMENT"},
		{"unknown field", active.Status.ID, `{"client_progress": 60, "progress": 60}`, 400, "INVALID_ARGUMENT"},
		{"progress as a string", active.Status.ID, `{"client_progress": "60"}`, 400, "INVALID_ARGUMENT"},
		{"body is a list", active.Status.ID, `[60]`, 400, "INVALID_ARGUMENT"},
	}
	for _, tc := range cases {
		for _, form := range []struct {
			name string
			url  func(string, string) string
		}{{"api", keepAliveURL}, {"rest", restKeepAliveURL}} {
			t.Run(tc.name+"/"+form.name, func(t *testing.T) {
				before := snapshot(t, ns)
				resp := do(t, http.MethodPost, form.url(srv, tc.id), tc.body)
				if resp.status != tc.wantStatus || resp.errorType(t) != tc.wantType {
					t.Fatalf("got %d %s, want %d %s", resp.status, resp.body, tc.wantStatus, tc.wantType)
				}
				if after := snapshot(t, ns); after != before {
					t.Fatalf("a refused keep-alive changed a session: %s -> %s", before, after)
				}
			})
		}
	}
}

func TestKeepAliveRouteErrors(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	us := env.CreateSession(t, testenv.NewSession(ns, "s", 0))
	cases := []struct {
		name, method, path string
		wantStatus         int
		wantType           string
	}{
		{"unknown action", "POST", apiBase + "/" + us.Status.ID + "?action=renew", 404, "OPERATION_NOT_FOUND"},
		{"wrong method", "PUT", apiBase + "/" + us.Status.ID + "?action=keep-alive", 405, "INVALID_REQUEST"},
		{"unknown path", "POST", "/api/content/library/item/" + us.Status.ID, 404, "OPERATION_NOT_FOUND"},
		{"unknown path in the rest form", "POST", "/rest/com/vmware/nothing", 404, "OPERATION_NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, tc.method, srv+tc.path, "")
			if resp.status != tc.wantStatus || resp.errorType(t) != tc.wantType {
				t.Fatalf("got %d %s, want %d %s", resp.status, resp.body, tc.wantStatus, tc.wantType)
			}
		})
	}
}

func keepAlive(t *testing.T, base string, us *v1alpha1.UpdateSession, body string) {
	t.Helper()
	if resp := do(t, http.MethodPost, keepAliveURL(base, us.Status.ID), body); resp.status != http.StatusNoContent {
		t.Fatalf("keep-alive: %d %s", resp.status, resp.body)
	}
}

// finish moves a session to a terminal state directly through the API server, and waits
// until the operator has seen it (it stamps the Active condition).
func finish(t *testing.T, us *v1alpha1.UpdateSession, state v1alpha1.SessionState) {
	t.Helper()
	base := us.DeepCopy()
	us.Status.State = state
	if err := env.Client.Status().Patch(context.Background(), us, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	env.WaitFor(t, us, 10*time.Second, func(us *v1alpha1.UpdateSession) bool {
		c := meta.FindStatusCondition(us.Status.Conditions, v1alpha1.ConditionActive)
		return c != nil && c.Status == metav1.ConditionFalse
	})
}

func get(t *testing.T, us *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	t.Helper()
	var cur v1alpha1.UpdateSession
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(us), &cur); err != nil {
		t.Fatal(err)
	}
	return &cur
}

// snapshot is the resource versions of every session in ns: any write changes it.
func snapshot(t *testing.T, ns string) string {
	t.Helper()
	var list v1alpha1.UpdateSessionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	s := ""
	for _, us := range list.Items {
		s += us.Name + "@" + us.ResourceVersion + " "
	}
	return s
}
