package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vapi/library"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/login"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

const (
	restSession = "/rest/com/vmware/cis/session"
	apiSession  = "/api/session"
)

// logIn logs in to srv with token as the bearer token and returns the session id.
func logIn(t *testing.T, srv, token string) string {
	t.Helper()
	var id string
	restURLs.result(t, do(t, "POST", srv+restSession, "", bearer(token)...), 200, &id)
	return id
}

// loginSecret returns the Secret of session id, nil when there is none.
func loginSecret(t *testing.T, id string) *corev1.Secret {
	t.Helper()
	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: testenv.OperatorNamespace, Name: login.SecretName(id)}
	err := env.Client.Get(context.Background(), key, secret)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestLoginAnswersWithASessionID: every login of a token, in either form and with the token as
// bearer or basic-auth password, answers the same 32-character id; calls with it in
// vmware-api-session-id act as the token's service account, on this replica and on another.
func TestLoginAnswersWithASessionID(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	token := tokens[srv]

	id := logIn(t, srv, token)
	if !login.IsID(id) {
		t.Fatalf("login answered %.40q, want a session id", id)
	}
	var again string
	apiURLs.result(t, do(t, "POST", srv+apiSession, "", bearer(token)...), 201, &again)
	restURLs.result(t, do(t, "POST", srv+restSession, "", basicAuth("govc", token)...), 200, &again)
	if again != id {
		t.Fatalf("another login of the same token answered %q, want %q", again, id)
	}
	restURLs.result(t, do(t, "POST", srv+restSession, "", "vmware-api-session-id", id), 200, &again)
	if again != id {
		t.Fatalf("a login with the session id answered %q, want the id", again)
	}
	refused(t, do(t, "POST", srv+apiSession, "", basicAuth("user", "pass")...), 401, "UNAUTHENTICATED")

	var who struct{ User string }
	apiURLs.result(t, do(t, "GET", srv+apiSession, "", "vmware-api-session-id", id), 200, &who)
	if who.User != "system:serviceaccount:"+ns+":uploader" {
		t.Fatalf("session user = %q", who.User)
	}
	created := apiURLs.createWith(t, srv, token, `{"library_item_id": "item"}`)
	noContent(t, do(t, "POST", apiURLs.action(srv, created, "keep-alive"), "", "vmware-api-session-id", id))

	// Another replica knows nothing of the login but what the API server holds.
	other := env.StartOperator(t, ns, startOptions(5*time.Minute)).RESTURL
	noContent(t, do(t, "POST", apiURLs.action(other, created, "keep-alive"), "", "vmware-api-session-id", id))

	// govmomi's own Login, with the token in a header, then its library client on the session.
	rc := govmomiManager(t, srv, "").Client
	ctx := rc.WithHeader(context.Background(), http.Header{"Authorization": {"Bearer " + token}})
	if err := rc.Login(ctx, nil); err != nil {
		t.Fatalf("govmomi Login: %v", err)
	}
	if rc.SessionID() != id {
		t.Fatalf("govmomi's session id is %.40q, want %q", rc.SessionID(), id)
	}
	m := library.NewManager(rc)
	fromGovmomi, err := m.CreateLibraryItemUpdateSession(context.Background(), library.Session{LibraryItemID: "after-login"})
	if err != nil {
		t.Fatalf("create after Login: %v", err)
	}
	if byIDAnywhere(t, fromGovmomi).Namespace != ns {
		t.Fatalf("session created after Login is not in the service account's namespace %s", ns)
	}
	if err := rc.Logout(context.Background()); err != nil {
		t.Fatalf("govmomi Logout: %v", err)
	}
}

// TestLoginSecretHoldsNeitherIDNorToken: a login's Secret is immutable, says when its token
// expires, and holds the token only encrypted: neither it nor the id appears in it.
func TestLoginSecretHoldsNeitherIDNorToken(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	token := tokens[srv]
	id := logIn(t, srv, token)
	secret := loginSecret(t, id)
	if secret == nil {
		t.Fatalf("no Secret %s/%s for the login", testenv.OperatorNamespace, login.SecretName(id))
	}
	if secret.Type != login.SecretType || secret.Immutable == nil || !*secret.Immutable || secret.Labels[login.Label] != "true" {
		t.Errorf("Secret: type %s, immutable %v, labels %v", secret.Type, secret.Immutable, secret.Labels)
	}
	if want := auth.TokenExpiry(token).UTC().Format(time.RFC3339); secret.Annotations[login.ExpiresAnnotation] != want {
		t.Errorf("expires = %q, want the token's exp %s", secret.Annotations[login.ExpiresAnnotation], want)
	}
	all := secret.Name
	for k, v := range secret.Data {
		all += k + string(v) + base64.StdEncoding.EncodeToString(v)
	}
	for k, v := range secret.Annotations {
		all += k + v
	}
	if strings.Contains(all, id) || strings.Contains(all, token) || strings.Contains(all, token[len(token)-40:]) {
		t.Error("the login's Secret holds the session id or the token")
	}
}

// TestSessionEndsWithItsToken: once the token is revoked (its service account deleted), a
// replica that must read the login again refuses the id and deletes the login; a made-up id,
// or one whose Secret was deleted, is refused as unauthenticated.
func TestSessionEndsWithItsToken(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	doomed := env.ServiceAccount(t, ns, "doomed", testenv.EditorVerbs...)
	id := logIn(t, srv, doomed.Token)
	created := apiURLs.createWith(t, srv, doomed.Token, `{"library_item_id": "item"}`)
	noContent(t, do(t, "POST", apiURLs.action(srv, created, "keep-alive"), "", "vmware-api-session-id", id))

	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: doomed.Name}}
	if err := env.Client.Delete(context.Background(), sa); err != nil {
		t.Fatal(err)
	}
	waitRevoked(t, doomed.Token)
	fresh := env.StartOperator(t, ns, startOptions(5*time.Minute)).RESTURL
	resp := do(t, "POST", apiURLs.action(fresh, created, "keep-alive"), "", "vmware-api-session-id", id)
	refused(t, resp, 401, "UNAUTHENTICATED")
	if !strings.Contains(string(resp.body), "log in again") {
		t.Errorf("refusal does not say to log in again: %s", resp.body)
	}
	if loginSecret(t, id) != nil {
		t.Error("the login of a revoked token was kept")
	}

	uploader := tokens[srv]
	gone := logIn(t, srv, uploader)
	if err := env.Client.Delete(context.Background(), loginSecret(t, gone)); err != nil {
		t.Fatal(err)
	}
	another := env.StartOperator(t, ns, startOptions(5*time.Minute)).RESTURL
	for _, unknown := range []string{gone, randomID()} {
		resp := do(t, "POST", apiURLs.action(another, created, "keep-alive"), "", "vmware-api-session-id", unknown)
		refused(t, resp, 401, "UNAUTHENTICATED")
		if !strings.Contains(string(resp.body), "log in") {
			t.Errorf("refusal of an unknown id does not say to log in: %s", resp.body)
		}
	}
	if again := logIn(t, another, uploader); again != gone || loginSecret(t, gone) == nil {
		t.Errorf("logging in again answered %q and stored no login, want %q stored again", again, gone)
	}
}

// waitRevoked waits until the API server refuses token: it remembers accepted tokens for a
// few seconds after they are revoked.
func waitRevoked(t *testing.T, token string) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.CP.Config)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		review, err := cs.AuthenticationV1().TokenReviews().Create(context.Background(),
			&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !review.Status.Authenticated {
			return
		}
	}
	t.Fatal("the API server still accepts the token a minute after its service account was deleted")
}

// TestSweepDeletesLoginsOfExpiredTokens: the sweeper deletes a login once its token's exp has
// passed, and keeps the others, among them those of tokens without an expiry.
func TestSweepDeletesLoginsOfExpiredTokens(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	store := login.New(env.Client, env.Client, ns, nil, auth.DefaultReviewLimits, 0)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	expiring := "eyJhbGciOiJub25lIn0." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"exp":`+strconv.FormatInt(exp.Unix(), 10)+`}`)) + ".sig"
	ids := make([]string, 0, 2)
	for _, token := range []string{expiring, "a-token-without-exp"} {
		id, err := store.Login(ctx, token, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	exists := func(id string) bool {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: login.SecretName(id)}, &corev1.Secret{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	}
	if n, err := store.Sweep(ctx, exp.Add(-time.Second)); err != nil || n != 0 || !exists(ids[0]) {
		t.Fatalf("sweep before the token expired: deleted %d, %v", n, err)
	}
	if n, err := store.Sweep(ctx, exp); err != nil || n != 1 || exists(ids[0]) || !exists(ids[1]) {
		t.Fatalf("sweep once the token expired: deleted %d, %v; want the expired login only", n, err)
	}
}

// sessionKeepAlive keeps session alive with a session id in vmware-api-session-id.
func sessionKeepAlive(server, session, id string) (int, string) {
	return keepAliveWith(server, session, "", auth.SessionIDHeader, id)
}

// randomID is a well-formed session id that no login made.
func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
