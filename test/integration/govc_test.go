package integration

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
)

// buildGovc builds govc's session commands from govmomi (see test/govc) into a temporary folder.
func buildGovc(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "govc")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/contentlib/update-session-operator/test/govc")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building govc: %v\n%s", err, out)
	}
	return bin
}

// govc runs govc as its users configure it: GOVC_URL with the token as the password, over
// HTTPS with a self-signed certificate.
type govc struct {
	bin, url, home string
}

func (g govc) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.bin, args...)
	cmd.Env = append(os.Environ(), "GOVC_URL="+g.url, "GOVC_INSECURE=1", "GOVMOMI_HOME="+g.home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

func TestGovc(t *testing.T) {
	bin := buildGovc(t)
	ns := env.Namespace(t)
	dir := t.TempDir()
	writeCert(t, dir, "127.0.0.1")
	op := env.StartOperator(t, ns, operator.Options{
		Policy:      session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour},
		RESTCertDir: dir,
	})
	token := env.ServiceAccount(t, ns, "uploader", "get", "list", "create", "update", "delete").Token
	u, err := url.Parse(op.RESTURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("uploader", token)
	g := govc{bin: bin, url: u.String(), home: t.TempDir()}

	active := restURLs.createWith(t, op.RESTURL, token, `{"library_item_id": "active"}`)
	forced := restURLs.createWith(t, op.RESTURL, token, `{"library_item_id": "forced"}`)
	done := restURLs.createWith(t, op.RESTURL, token, `{"library_item_id": "done"}`)
	restURLs.ok(t, do(t, "POST", restURLs.action(op.RESTURL, done, "complete"), "", bearer(token)...))

	t.Run("library.session.ls lists every session", func(t *testing.T) {
		out, errOut, err := g.run(t, "library.session.ls")
		if err != nil {
			t.Fatalf("govc library.session.ls: %v\n%s", err, errOut)
		}
		for _, want := range []string{active + " ", forced + " ", done + " ", "ACTIVE", "DONE"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("library.session.rm refuses an ACTIVE session", func(t *testing.T) {
		_, errOut, err := g.run(t, "library.session.rm", active)
		if err == nil || !strings.Contains(errOut, "not_allowed_in_current_state") {
			t.Fatalf("govc library.session.rm of an ACTIVE session: %v, stderr %s", err, errOut)
		}
		if st := byID(t, ns, active).Status.State; st != v1alpha1.StateActive {
			t.Fatalf("the refused session is %s, want ACTIVE", st)
		}
	})
	t.Run("library.session.rm deletes a session that ended", func(t *testing.T) {
		if _, errOut, err := g.run(t, "library.session.rm", done); err != nil {
			t.Fatalf("govc library.session.rm: %v\n%s", err, errOut)
		}
		assertGone(t, ns, done)
	})
	t.Run("library.session.rm -f cancels, then deletes", func(t *testing.T) {
		if _, errOut, err := g.run(t, "library.session.rm", "-f", forced); err != nil {
			t.Fatalf("govc library.session.rm -f: %v\n%s", err, errOut)
		}
		assertGone(t, ns, forced)
	})
	t.Run("a password that is no token is refused", func(t *testing.T) {
		bad := *u
		bad.User = url.UserPassword("uploader", "hunter2")
		_, errOut, err := govc{bin: bin, url: bad.String(), home: t.TempDir()}.run(t, "library.session.ls")
		// govc prints the status of a failed login, not its body (TestBasicAuthTakesATokenAsPassword
		// checks the advice the body gives).
		if err == nil || !strings.Contains(errOut, "401 Unauthorized") {
			t.Fatalf("govc with a wrong password: %v, stderr %s", err, errOut)
		}
	})
}

// createWith creates a session as the caller of token and returns its id.
func (f urlForm) createWith(t *testing.T, server, token, spec string) string {
	t.Helper()
	var id string
	f.result(t, do(t, "POST", f.collection(server), f.wrap("create_spec", spec), bearer(token)...), f.created, &id)
	return id
}

// assertGone fails unless no session of ns has the id, read from the API server.
func assertGone(t *testing.T, ns, id string) {
	t.Helper()
	var list v1alpha1.UpdateSessionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, us := range list.Items {
		if us.Status.ID == id {
			t.Fatalf("session %s still exists, state %s", id, us.Status.State)
		}
	}
}
