package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/internal/login"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// loginSecrets counts the login Secrets in the operator's namespace, of one identity when
// user is not empty.
func loginSecrets(t *testing.T, user string) int {
	t.Helper()
	labels := client.MatchingLabels{login.Label: "true"}
	if user != "" {
		labels[login.IdentityLabel] = login.IdentityHash(user)
	}
	var list corev1.SecretList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(testenv.OperatorNamespace), labels); err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

// TestLoginNeedsRightsOnSessions: a service account that may do nothing with update sessions
// is refused UNAUTHORIZED at login, and no Secret is stored for it; one that may get them in
// its namespace logs in.
func TestLoginNeedsRightsOnSessions(t *testing.T) {
	ns := env.Namespace(t)
	op := env.StartOperator(t, ns, startOptions(5*time.Minute))
	nobody := env.ServiceAccount(t, ns, "nobody")
	before := loginSecrets(t, "")
	for _, f := range []urlForm{apiURLs, restURLs} {
		refused(t, do(t, http.MethodPost, op.RESTURL+f.sessionPath(), "", bearer(nobody.Token)...),
			http.StatusForbidden, "UNAUTHORIZED")
	}
	if n := loginSecrets(t, ""); n != before {
		t.Errorf("%d login Secrets after refused logins, want %d", n, before)
	}
	viewer := env.ServiceAccount(t, ns, "viewer", testenv.ViewerVerbs...)
	if id := logIn(t, op.RESTURL, viewer.Token); !login.IsID(id) {
		t.Fatalf("a viewer's login answered %.40q, want a session id", id)
	}
	if n := loginSecrets(t, "system:serviceaccount:"+ns+":viewer"); n != 1 {
		t.Errorf("the viewer has %d login Secrets, want 1", n)
	}
}

// TestLoginsPerIdentityAreCapped: past its cap an identity's login stores nothing and answers
// the token itself, which works as a session id; a token already logged in keeps its id, and
// another identity still logs in.
func TestLoginsPerIdentityAreCapped(t *testing.T) {
	ns := env.Namespace(t)
	opts := startOptions(5 * time.Minute)
	opts.LoginsPerIdentity = 2
	op := env.StartOperator(t, ns, opts)
	many := env.ServiceAccount(t, ns, "many", testenv.EditorVerbs...)
	user := "system:serviceaccount:" + ns + ":many"
	tokens := []string{many.Token, env.Token(t, ns, "many"), env.Token(t, ns, "many")}

	first, second := logIn(t, op.RESTURL, tokens[0]), logIn(t, op.RESTURL, tokens[1])
	if !login.IsID(first) || !login.IsID(second) || first == second {
		t.Fatalf("logins within the cap answered %.40q and %.40q, want two session ids", first, second)
	}
	if third := logIn(t, op.RESTURL, tokens[2]); third != tokens[2] {
		t.Fatalf("the login past the cap answered %.40q, want the token itself", third)
	}
	if n := loginSecrets(t, user); n != 2 {
		t.Errorf("%d login Secrets of the identity, want 2", n)
	}
	// Another replica, which has not seen the logins, counts them on the API server alike.
	other := env.StartOperator(t, ns, opts).RESTURL
	if again := logIn(t, other, tokens[0]); again != first {
		t.Errorf("logging in again with a stored token answered %.40q, want %q", again, first)
	}
	if third := logIn(t, other, tokens[2]); third != tokens[2] {
		t.Errorf("the login past the cap on another replica answered %.40q, want the token itself", third)
	}
	var who struct{ User string }
	apiURLs.result(t, do(t, http.MethodGet, other+apiSession, "", "vmware-api-session-id", tokens[2]), 200, &who)
	if who.User != user {
		t.Errorf("the token answered past the cap acts as %q, want %q", who.User, user)
	}
	if n := loginSecrets(t, user); n != 2 {
		t.Errorf("%d login Secrets of the identity, want 2", n)
	}
	someone := env.ServiceAccount(t, ns, "someone", testenv.EditorVerbs...)
	if id := logIn(t, other, someone.Token); !login.IsID(id) {
		t.Errorf("another identity's login answered %.40q, want a session id", id)
	}
}
