package integration

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// basicAuth is the header of HTTP basic auth, as govc sends it from GOVC_URL.
func basicAuth(user, password string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
}

func TestServiceAccountOfAnotherNamespaceIsRefused(t *testing.T) {
	ns, elsewhere := env.Namespace(t), env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	id := apiURLs.create(t, srv, `{"library_item_id": "guarded"}`)
	// An editor, but of its own namespace only.
	outsider := env.ServiceAccount(t, elsewhere, "outsider", testenv.EditorVerbs...)

	// On a session it may not read, every call answers as an unknown id would: the same status,
	// error type and body, but for the id. Where it names a namespace, it is UNAUTHORIZED.
	sessionCalls := []struct {
		name, method string
		url          func(f urlForm, id string) string
		body         string
	}{
		{"get", "GET", func(f urlForm, id string) string { return f.item(srv, id) }, ""},
		{"keep-alive", "POST", func(f urlForm, id string) string { return f.action(srv, id, "keep-alive") }, ""},
		{"update", "PATCH", func(f urlForm, id string) string { return f.item(srv, id) }, ""},
		{"complete", "POST", func(f urlForm, id string) string { return f.action(srv, id, "complete") }, ""},
		{"cancel", "POST", func(f urlForm, id string) string { return f.action(srv, id, "cancel") }, ""},
		{"fail", "POST", func(f urlForm, id string) string { return f.action(srv, id, "fail") }, ""},
		{"delete", "DELETE", func(f urlForm, id string) string { return f.item(srv, id) }, ""},
	}
	for _, c := range sessionCalls {
		for _, f := range forms {
			t.Run(c.name+"/"+f.name, func(t *testing.T) {
				before := snapshot(t, ns)
				existing := do(t, c.method, c.url(f, id), c.body, bearer(outsider.Token)...)
				missing := do(t, c.method, c.url(f, unknownID), c.body, bearer(outsider.Token)...)
				refused(t, existing, 404, "NOT_FOUND")
				if a, b := strings.ReplaceAll(string(existing.body), id, "ID"), strings.ReplaceAll(string(missing.body), unknownID, "ID"); existing.status != missing.status || a != b {
					t.Fatalf("an existing session it may not read answers %d %s; an unknown id %d %s", existing.status, a, missing.status, b)
				}
				if after := snapshot(t, ns); after != before {
					t.Fatalf("a refused call changed a session: %s -> %s", before, after)
				}
			})
		}
	}
	for _, c := range []struct{ name, method, url, body string }{
		{"list there", "GET", apiURLs.collection(srv) + "?namespace=" + ns, ""},
		{"create there", "POST", apiURLs.collection(srv) + "?namespace=" + ns, `{"library_item_id": "mine"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := snapshot(t, ns)
			refused(t, do(t, c.method, c.url, c.body, bearer(outsider.Token)...), 403, "UNAUTHORIZED")
			if after := snapshot(t, ns); after != before {
				t.Fatalf("a refused call changed a session: %s -> %s", before, after)
			}
		})
	}
	t.Run("its own namespace is where it creates and lists", func(t *testing.T) {
		var own string
		apiURLs.result(t, do(t, "POST", apiURLs.collection(srv), `{"library_item_id": "mine"}`, bearer(outsider.Token)...), 201, &own)
		var ids []string
		apiURLs.result(t, do(t, "GET", apiURLs.collection(srv), "", bearer(outsider.Token)...), 200, &ids)
		if !slices.Equal(ids, []string{own}) {
			t.Fatalf("list in its namespace = %v, want [%s]", ids, own)
		}
		if ns := byIDAnywhere(t, own).Namespace; ns != elsewhere {
			t.Fatalf("created in %s, want the caller's namespace %s", ns, elsewhere)
		}
	})
}

func TestViewerCanGetButNotChange(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	id := apiURLs.create(t, srv, `{"library_item_id": "watched"}`)
	viewer := env.ServiceAccount(t, ns, "viewer", testenv.ViewerVerbs...)

	var m model
	apiURLs.result(t, do(t, "GET", apiURLs.item(srv, id), "", bearer(viewer.Token)...), 200, &m)
	var ids []string
	restURLs.result(t, do(t, "GET", restURLs.collection(srv), "", bearer(viewer.Token)...), 200, &ids)
	for _, c := range []struct{ method, url, body string }{
		{"POST", apiURLs.action(srv, id, "keep-alive"), `{"client_progress": 5}`},
		{"POST", restURLs.action(srv, id, "complete"), ""},
		{"PATCH", apiURLs.item(srv, id), `{"warning_behavior": []}`},
		{"POST", apiURLs.collection(srv), `{"library_item_id": "other"}`},
	} {
		before := snapshot(t, ns)
		refused(t, do(t, c.method, c.url, c.body, bearer(viewer.Token)...), 403, "UNAUTHORIZED")
		if after := snapshot(t, ns); after != before {
			t.Fatalf("a viewer changed a session: %s -> %s", before, after)
		}
	}
}

func TestUnauthenticatedCallsAreRefused(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	id := apiURLs.create(t, srv, `{"library_item_id": "locked"}`)
	uploader := tokens[srv]
	expired := env.Resign(t, uploader, time.Now().Add(-time.Minute))
	resignedValid := env.Resign(t, uploader, time.Now().Add(time.Hour))

	keepAlive := apiURLs.action(srv, id, "keep-alive")
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"no token", []string{"Authorization", ""}},
		{"garbage token", bearer("not-a-token")},
		{"token over the size limit", bearer(strings.Repeat("t", 9<<10))},
		{"garbage session id", []string{"vmware-api-session-id", "garbage"}},
		{"expired token", bearer(expired)},
		{"user name and a password that is no token", basicAuth("user", "pass")},
		{"basic auth with an empty password", basicAuth("user", "")},
		{"basic auth with an expired token", basicAuth("user", expired)},
		{"basic auth with a token over the size limit", basicAuth("user", strings.Repeat("t", 9<<10))},
		{"basic auth with a control byte in the user name", basicAuth("us\x1ber", uploader)},
		{"bearer without a token", []string{"Authorization", "Bearer "}},
		{"unknown scheme", []string{"Authorization", "Token " + uploader}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, ns)
			for _, f := range forms {
				resp := do(t, "POST", f.action(srv, id, "keep-alive"), "", tc.header...)
				refused(t, resp, 401, "UNAUTHENTICATED")
			}
			if after := snapshot(t, ns); after != before {
				t.Fatalf("an unauthenticated call changed a session: %s -> %s", before, after)
			}
		})
	}
	t.Run("basic auth with a wrong password is told to use a token", func(t *testing.T) {
		resp := do(t, "POST", keepAlive, "", basicAuth("govc", "hunter2")...)
		if !strings.Contains(string(resp.body), "token as the password") {
			t.Fatalf("body %s does not say to use a token as the password", resp.body)
		}
	})
	t.Run("basic auth with the token as the password is accepted", func(t *testing.T) {
		noContent(t, do(t, "POST", keepAlive, "", basicAuth("govc", uploader)...))
	})
	t.Run("the same token re-signed with a future expiry is accepted", func(t *testing.T) {
		noContent(t, do(t, "POST", keepAlive, "", bearer(resignedValid)...))
	})
	t.Run("the token in vmware-api-session-id is accepted", func(t *testing.T) {
		noContent(t, do(t, "POST", keepAlive, "", "vmware-api-session-id", uploader))
	})
}

// byIDAnywhere finds a session by id in any namespace.
func byIDAnywhere(t *testing.T, id string) *v1alpha1.UpdateSession {
	t.Helper()
	var list v1alpha1.UpdateSessionList
	if err := env.Client.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if list.Items[i].Status.ID == id {
			return &list.Items[i]
		}
	}
	t.Fatalf("no session with id %s", id)
	return nil
}

// TestIDIsTheUID: a session whose status.id names another session's UID is never what that id
// finds.
func TestIDIsTheUID(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	pol := session.Policy{DefaultTimeout: time.Hour}
	real, impostor := testenv.NewSession(ns, "b-real", 0), testenv.NewSession(ns, "a-impostor", 0)
	for _, us := range []*v1alpha1.UpdateSession{real, impostor} {
		if err := env.Client.Create(ctx, us); err != nil {
			t.Fatal(err)
		}
	}
	for _, us := range []*v1alpha1.UpdateSession{real, impostor} {
		pol.Sync(us, time.Now())
		us.Status.ID = string(real.UID) // the impostor claims the real session's id
		if err := env.Client.Status().Update(ctx, us); err != nil {
			t.Fatal(err)
		}
	}
	srv := startOperator(t, ns, time.Hour)
	for range 5 {
		var m model
		apiURLs.result(t, do(t, "GET", apiURLs.item(srv, string(real.UID)), ""), 200, &m)
		if m.LibraryItemID != real.Spec.LibraryItemID {
			t.Fatalf("id %s found the session of item %s, want %s", real.UID, m.LibraryItemID, real.Spec.LibraryItemID)
		}
		noContent(t, do(t, "POST", apiURLs.action(srv, string(real.UID), "keep-alive"), `{"client_progress": 1}`))
	}
	if p := byName(t, impostor).Status.ClientProgress; p != 0 {
		t.Fatalf("keep-alives for %s changed the impostor's progress to %d", real.UID, p)
	}
}

func byName(t *testing.T, us *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	t.Helper()
	var cur v1alpha1.UpdateSession
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(us), &cur); err != nil {
		t.Fatal(err)
	}
	return &cur
}

// TestTokenAudiences: with --rest-token-audiences, only tokens issued for one of them are
// accepted, so a token given to this server is useless against the API server, and a token for
// the API server is refused here.
func TestTokenAudiences(t *testing.T) {
	ns := env.Namespace(t)
	op := env.StartOperator(t, ns, operator.Options{
		Policy:         session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour},
		TokenAudiences: []string{"update-sessions.contentlib.dev"},
	})
	caller := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...)
	forUs := env.Token(t, ns, "uploader", "update-sessions.contentlib.dev")
	id := apiURLs.createWith(t, op.RESTURL, forUs, `{"library_item_id": "audience"}`)
	noContent(t, do(t, "POST", apiURLs.action(op.RESTURL, id, "keep-alive"), "", bearer(forUs)...))
	refused(t, do(t, "POST", apiURLs.action(op.RESTURL, id, "keep-alive"), "", bearer(caller.Token)...), 401, "UNAUTHENTICATED")
	refused(t, do(t, "POST", apiURLs.action(op.RESTURL, id, "keep-alive"), "",
		bearer(env.Token(t, ns, "uploader", "someone-else"))...), 401, "UNAUTHENTICATED")
}

// TestRoleForOneSession: a caller granted sessions by name (a Role with resourceNames) keeps its
// own session alive, and cannot tell another session of the namespace from a missing id. The
// namespace-wide decision asked first is denied for it, and the named one then decides.
func TestRoleForOneSession(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	mine := byIDAnywhere(t, apiURLs.create(t, srv, `{"library_item_id": "mine"}`))
	other := byIDAnywhere(t, apiURLs.create(t, srv, `{"library_item_id": "other"}`))
	caller := env.ServiceAccount(t, ns, "one-session")
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "one-session"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"updatesessions"},
			ResourceNames: []string{mine.Name}, Verbs: []string{"get", "update"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "one-session"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "one-session"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "one-session"}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second time from the cached decisions
		noContent(t, do(t, "POST", apiURLs.action(srv, mine.Status.ID, "keep-alive"), "", bearer(caller.Token)...))
		refused(t, do(t, "POST", apiURLs.action(srv, other.Status.ID, "keep-alive"), "", bearer(caller.Token)...),
			404, "NOT_FOUND")
	}
}
