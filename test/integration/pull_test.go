package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/vapi/library"
	"github.com/vmware/govmomi/vim25/soap"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/controllers"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
	"github.com/contentlib/update-session-operator/internal/transfer"
)

// pullPayload is what the tests' sources serve.
var pullPayload = strings.Repeat("the bytes a PULL fetches. ", 4096)

func pullSHA256() string {
	sum := sha256.Sum256([]byte(pullPayload))
	return hex.EncodeToString(sum[:])
}

// pullOperator runs the operator for ns with PULLs allowed to 127.0.0.1 alone (where the tests'
// sources listen) and progress written every second, as startOperator does otherwise.
func pullOperator(t *testing.T, ns string) *testenv.Operator {
	t.Helper()
	return pullOperatorWith(t, ns, startOptions(5*time.Minute))
}

// pullOperatorWith is pullOperator with opts as the rest of the options.
func pullOperatorWith(t *testing.T, ns string, opts operator.Options) *testenv.Operator {
	t.Helper()
	op := env.StartOperator(t, ns, pullOptions(opts))
	uploaderOf(t, ns, op)
	return op
}

// uploaderOf makes the service account "uploader" of ns, allowed to upload and to read library
// items, the caller the tests send to op as.
func uploaderOf(t *testing.T, ns string, op *testenv.Operator) {
	t.Helper()
	tokens[op.RESTURL] = env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	t.Cleanup(func() { delete(tokens, op.RESTURL) })
	env.GrantLibraryItems(t, ns, "uploader")
}

// pullOptions is opts with the PULL settings of the tests: sources on 127.0.0.1 allowed, and
// progress written every second.
func pullOptions(opts operator.Options) operator.Options {
	opts.PullAllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	opts.TransferProgressInterval = time.Second
	return opts
}

// source serves pullPayload over HTTPS on 127.0.0.1, counting requests.
func source(t *testing.T, hits *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.ServeContent(w, r, "disk.vmdk", time.Time{}, strings.NewReader(pullPayload))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// addPull adds the PULL file disk.vmdk through govmomi and waits until it leaves TRANSFERRING.
func addPull(t *testing.T, m *library.Manager, id string, ep library.TransferEndpoint) *library.UpdateFile {
	t.Helper()
	ctx := context.Background()
	if _, err := m.AddLibraryItemFile(ctx, id, library.UpdateFile{Name: "disk.vmdk", SourceType: "PULL", SourceEndpoint: &ep}); err != nil {
		t.Fatalf("add: %v", err)
	}
	return waitFileInfo(t, m, id, "disk.vmdk", func(f *library.UpdateFile) bool {
		return f.Status == "READY" || f.Status == "ERROR"
	})
}

// waitFileInfo polls get until cond holds of the session's file name.
func waitFileInfo(t *testing.T, m *library.Manager, id, name string, cond func(*library.UpdateFile) bool) *library.UpdateFile {
	t.Helper()
	var f *library.UpdateFile
	var lastErr error
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			f, lastErr = m.GetLibraryItemUpdateSessionFile(ctx, id, name)
			return lastErr == nil && cond(f), nil
		})
	if err != nil {
		t.Fatalf("file %s: condition not met (last: %+v, %v)", name, f, lastErr)
	}
	return f
}

// storedPull reads the bytes op's store keeps for the pulled file of session us, disk.vmdk.
func storedPull(t *testing.T, op *testenv.Operator, us *v1alpha1.UpdateSession) string {
	const name = "disk.vmdk"
	t.Helper()
	ctx := context.Background()
	store, err := content.Open(ctx, op.ContentStore)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	r, err := store.Open(ctx, content.FileKey(us.Namespace, us.Spec.LibraryItemID, us.UID, name), 0, -1)
	if err != nil {
		t.Fatalf("the store has no bytes of %s: %v", name, err)
	}
	defer func() { _ = r.Close() }()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPullWithThumbprint(t *testing.T) {
	ns := env.Namespace(t)
	op := pullOperator(t, ns)
	m := govmomiManager(t, op.RESTURL, tokens[op.RESTURL])
	var hits atomic.Int32
	src := source(t, &hits)
	id, err := m.CreateLibraryItemUpdateSession(context.Background(), library.Session{LibraryItemID: "pulled"})
	if err != nil {
		t.Fatal(err)
	}
	versions := watchFile(t, byID(t, ns, id), "disk.vmdk")

	f := addPull(t, m, id, library.TransferEndpoint{
		URI: src.URL + "/disk.vmdk", SSLCertificateThumbprint: soap.ThumbprintSHA1(src.Certificate()),
	})
	if f.Status != "READY" || f.Size != int64(len(pullPayload)) || f.BytesTransferred != int64(len(pullPayload)) ||
		f.Checksum == nil || f.Checksum.Checksum != pullSHA256() {
		t.Fatalf("file after the PULL: %+v (checksum %+v), want READY with the payload's size and SHA256", f, f.Checksum)
	}
	// The add writes the file claimed for its fetch: no version of the session shows it WAITING,
	// which a replica dying after the add would leave for no replica to fetch.
	if got := versions(v1alpha1.TransferReady); len(got) == 0 || got[0] != v1alpha1.TransferTransferring {
		t.Fatalf("the file's status in each version of the session: %v, want TRANSFERRING first", got)
	}
	if got := storedPull(t, op, byID(t, ns, id)); got != pullPayload {
		t.Fatalf("the store holds %d bytes, not the payload", len(got))
	}
	// A source that declares another size than the one promised is refused before a byte is read.
	wrong, err := m.AddLibraryItemFile(context.Background(), id, library.UpdateFile{Name: "other.vmdk", SourceType: "PULL", Size: 7,
		SourceEndpoint: &library.TransferEndpoint{URI: src.URL + "/disk.vmdk", SSLCertificateThumbprint: soap.ThumbprintSHA1(src.Certificate())}})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if wrong.Status == "TRANSFERRING" {
		wrong = waitFileInfo(t, m, id, "other.vmdk", func(f *library.UpdateFile) bool { return f.Status != "TRANSFERRING" })
	}
	if wrong.Status != "ERROR" || wrong.ErrorMessage == nil || !strings.Contains(wrong.ErrorMessage.DefaultMessage, "declares") ||
		wrong.BytesTransferred != 0 {
		t.Fatalf("file promised 7 bytes from a source of %d: %+v (%+v), want ERROR", len(pullPayload), wrong, wrong.ErrorMessage)
	}
	if err := m.RemoveLibraryItemUpdateSessionFile(context.Background(), id, "other.vmdk"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if err := m.CompleteLibraryItemUpdateSession(context.Background(), id); err != nil {
		t.Fatalf("complete: %v", err)
	}
	files, err := m.ListLibraryItemFiles(context.Background(), "pulled")
	if err != nil || len(files) != 1 || files[0].Name != "disk.vmdk" || files[0].Size == nil || *files[0].Size != int64(len(pullPayload)) {
		t.Fatalf("the item's files: %+v, %v; want disk.vmdk", files, err)
	}
}

func TestPullCertificates(t *testing.T) {
	ns := env.Namespace(t)
	op := pullOperator(t, ns)
	m := govmomiManager(t, op.RESTURL, tokens[op.RESTURL])
	var hits atomic.Int32
	src := source(t, &hits)
	ep := library.TransferEndpoint{URI: src.URL + "/disk.vmdk"}

	// Without a thumbprint, the test server's self-signed certificate is not trusted.
	strict, err := m.CreateLibraryItemUpdateSession(context.Background(), library.Session{LibraryItemID: "strict"})
	if err != nil {
		t.Fatal(err)
	}
	f := addPull(t, m, strict, ep)
	if f.Status != "ERROR" || f.ErrorMessage == nil || !strings.Contains(f.ErrorMessage.DefaultMessage, "certificate") {
		t.Fatalf("file fetched from an untrusted server: %+v (%+v), want ERROR about its certificate", f, f.ErrorMessage)
	}

	// A session that ignores self-signed certificates fetches it.
	us := testenv.NewSession(ns, "lenient", 0)
	us.Spec.WarningBehavior = []v1alpha1.WarningBehavior{{Type: v1alpha1.WarningSelfSigned, Ignored: true}}
	lenient := env.CreateSession(t, us).Status.ID
	if f := addPull(t, m, lenient, ep); f.Status != "READY" {
		t.Fatalf("file fetched by a session ignoring self-signed certificates: %+v (%+v), want READY", f, f.ErrorMessage)
	}

	// probe says what add needs: the certificate's thumbprint.
	res, err := m.ProbeTransferEndpoint(context.Background(), ep)
	if err != nil || res.Status != "CERTIFICATE_ERROR" || res.SSLThumbprint != soap.ThumbprintSHA1(src.Certificate()) {
		t.Fatalf("probe without a thumbprint: %+v, %v; want CERTIFICATE_ERROR with the thumbprint", res, err)
	}
	ep.SSLCertificateThumbprint = res.SSLThumbprint
	if res, err := m.ProbeTransferEndpoint(context.Background(), ep); err != nil || res.Status != "SUCCESS" {
		t.Fatalf("probe with the thumbprint: %+v, %v; want SUCCESS", res, err)
	}
}

func TestPullRefusedAddresses(t *testing.T) {
	ns := env.Namespace(t)
	op := pullOperator(t, ns)
	m := govmomiManager(t, op.RESTURL, tokens[op.RESTURL])
	var hits atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := &httptest.Server{Listener: ln, Config: &http.Server{ReadHeaderTimeout: time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })}}
	refused.Start()
	defer refused.Close()
	// An allowed server that redirects to the refused one.
	redirect := httptest.NewServer(http.RedirectHandler(refused.URL+"/disk.vmdk", http.StatusFound))
	defer redirect.Close()

	cases := []struct{ name, uri string }{
		{"loopback-not-allowed", refused.URL + "/disk.vmdk"},
		{"cloud-metadata", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"},
		{"redirected", redirect.URL + "/disk.vmdk"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := m.CreateLibraryItemUpdateSession(context.Background(), library.Session{LibraryItemID: "refused-" + tc.name})
			if err != nil {
				t.Fatal(err)
			}
			f := addPull(t, m, id, library.TransferEndpoint{URI: tc.uri})
			if f.Status != "ERROR" || f.ErrorMessage == nil || !strings.Contains(f.ErrorMessage.DefaultMessage, "refused") {
				t.Fatalf("file from %s: %+v (%+v), want ERROR saying it was refused", tc.uri, f, f.ErrorMessage)
			}
			if res, err := m.ProbeTransferEndpoint(context.Background(), library.TransferEndpoint{URI: tc.uri}); err != nil ||
				res.Status != "INVALID_URL" {
				t.Fatalf("probe of %s: %+v, %v; want INVALID_URL", tc.uri, res, err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the refused server got %d requests", n)
	}
}

// slowSource serves pullPayload, its first half at once and the rest once release is closed;
// cut, when closed instead, ends the answer there.
func slowSource(t *testing.T, release, cut chan struct{}) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		half := len(pullPayload) / 2
		w.Header().Set("Content-Length", strconv.Itoa(len(pullPayload)))
		_, _ = io.WriteString(w, pullPayload[:half])
		w.(http.Flusher).Flush()
		select {
		case <-release:
			_, _ = io.WriteString(w, pullPayload[half:])
		case <-cut:
			panic(http.ErrAbortHandler)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// cutOnceSource serves pullPayload over HTTPS on 127.0.0.1, counting requests: half of it to
// the first, which then waits until its client goes away, and all of it to the others.
func cutOnceSource(t *testing.T, hits *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) > 1 {
			http.ServeContent(w, r, "disk.vmdk", time.Time{}, strings.NewReader(pullPayload))
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(pullPayload)))
		_, _ = io.WriteString(w, pullPayload[:len(pullPayload)/2])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCompleteWhilePulling(t *testing.T) {
	ns := env.Namespace(t)
	op := pullOperator(t, ns)
	m := govmomiManager(t, op.RESTURL, tokens[op.RESTURL])
	ctx := context.Background()

	for _, tc := range []struct {
		name      string
		end       func(release, cut chan struct{})
		wantState v1alpha1.SessionState
	}{
		{"done", func(release, _ chan struct{}) { close(release) }, v1alpha1.StateDone},
		{"cut", func(_, cut chan struct{}) { close(cut) }, v1alpha1.StateError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release, cut := make(chan struct{}), make(chan struct{})
			src := slowSource(t, release, cut)
			id, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "slow-" + tc.name})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.AddLibraryItemFile(ctx, id, library.UpdateFile{Name: "disk.vmdk", SourceType: "PULL",
				SourceEndpoint: &library.TransferEndpoint{URI: src.URL, SSLCertificateThumbprint: soap.ThumbprintSHA1(src.Certificate())}}); err != nil {
				t.Fatalf("add: %v", err)
			}
			// Progress is written while the bytes flow.
			waitFileInfo(t, m, id, "disk.vmdk", func(f *library.UpdateFile) bool {
				return f.Status == "TRANSFERRING" && f.BytesTransferred == int64(len(pullPayload)/2)
			})
			if err := m.CompleteLibraryItemUpdateSession(ctx, id); err != nil {
				t.Fatalf("complete while the PULL runs: %v", err)
			}
			us := byID(t, ns, id)
			if us.Status.State != v1alpha1.StateActive || us.Status.CompletionRequested == nil {
				t.Fatalf("after complete: state %s, completionRequested %v; want ACTIVE, completing", us.Status.State,
					us.Status.CompletionRequested)
			}
			tc.end(release, cut)
			us = env.WaitFor(t, us, time.Minute, func(us *v1alpha1.UpdateSession) bool { return us.Status.State.Terminal() })
			if us.Status.State != tc.wantState {
				t.Fatalf("state after the PULL ended: %s (%s), want %s", us.Status.State, us.Status.ErrorMessage, tc.wantState)
			}
			if tc.wantState == v1alpha1.StateError && !strings.Contains(us.Status.ErrorMessage, "disk.vmdk") {
				t.Errorf("errorMessage %q does not name the file", us.Status.ErrorMessage)
			}
			if tc.wantState == v1alpha1.StateDone && us.Status.ContentVersion < 1 {
				t.Errorf("contentVersion %d after DONE", us.Status.ContentVersion)
			}
		})
	}
}

func TestGovmomiAddFromURI(t *testing.T) {
	ns := env.Namespace(t)
	op := pullOperator(t, ns)
	m := govmomiManager(t, op.RESTURL, tokens[op.RESTURL])
	var hits atomic.Int32
	src := source(t, &hits)
	ctx := context.Background()
	id, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "from-uri"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddLibraryItemFileFromURI(ctx, id, "disk.vmdk", src.URL+"/disk.vmdk"); err != nil {
		t.Fatalf("AddLibraryItemFileFromURI: %v", err)
	}
	f := waitFileInfo(t, m, id, "disk.vmdk", func(f *library.UpdateFile) bool { return f.Status == "READY" || f.Status == "ERROR" })
	if f.Status != "READY" || f.Size != int64(len(pullPayload)) {
		t.Fatalf("file added from its URI: %+v (%+v), want READY", f, f.ErrorMessage)
	}
	if err := m.CompleteLibraryItemUpdateSession(ctx, id); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if err := m.WaitOnLibraryItemUpdateSession(ctx, id, 20*time.Millisecond, nil); err != nil {
		t.Fatalf("wait: %v", err)
	}
}

// addFrom creates an update session on item and adds to it, through govmomi, the PULL file
// disk.vmdk from src (its thumbprint pinned); it returns the session's id and the add's error.
func addFrom(t *testing.T, m *library.Manager, item string, src *httptest.Server) (string, error) {
	t.Helper()
	ctx := context.Background()
	id, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: item})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.AddLibraryItemFile(ctx, id, library.UpdateFile{Name: "disk.vmdk", SourceType: "PULL",
		SourceEndpoint: &library.TransferEndpoint{URI: src.URL, SSLCertificateThumbprint: soap.ThumbprintSHA1(src.Certificate())}})
	return id, err
}

// addSlow adds disk.vmdk from src (a slowSource) to a new session of item and waits until
// half of it arrived.
func addSlow(t *testing.T, m *library.Manager, item string, src *httptest.Server) string {
	t.Helper()
	id, err := addFrom(t, m, item, src)
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	waitFileInfo(t, m, id, "disk.vmdk", func(f *library.UpdateFile) bool {
		return f.Status == "TRANSFERRING" && f.BytesTransferred == int64(len(pullPayload)/2)
	})
	return id
}

// TestPullsWithinTheTransfersCap: past the replica's cap on transfers, a PULL added goes ERROR
// at once, and one to fetch anew stays TRANSFERRING until a transfer ended.
func TestPullsWithinTheTransfersCap(t *testing.T) {
	ns := env.Namespace(t)
	opts := startOptions(5 * time.Minute)
	opts.ContentMaxTransfers = 1
	op := pullOperatorWith(t, ns, opts)
	m := govmomiManager(t, op.RESTURL, tokens[op.RESTURL])
	release := make(chan struct{})
	first := addSlow(t, m, "first", slowSource(t, release, nil))

	var hits atomic.Int32
	_, err := addFrom(t, m, "second", source(t, &hits))
	if err == nil || !strings.Contains(err.Error(), "as many transfers") {
		t.Fatalf("add past the transfers cap: %v, want the file in ERROR saying the server runs as many transfers as it may", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the source of a PULL past the cap got %d requests", n)
	}

	var anewHits atomic.Int32
	us := deadPull(t, ns, "died", source(t, &anewHits))
	time.Sleep(2 * transfer.BusyAfter * time.Second) // two of the leader's looks at it (progress every second)
	if cur := byID(t, ns, us.Status.ID); cur.Status.Files[0].Status != v1alpha1.TransferTransferring || anewHits.Load() != 0 {
		t.Fatalf("a PULL to fetch anew past the cap: %+v, %d fetches; want TRANSFERRING, not fetched", cur.Status.Files[0],
			anewHits.Load())
	}
	close(release)
	env.WaitFor(t, byID(t, ns, first), time.Minute, func(us *v1alpha1.UpdateSession) bool {
		return us.Status.Files[0].Status == v1alpha1.TransferReady
	})
	us = env.WaitFor(t, us, time.Minute, func(us *v1alpha1.UpdateSession) bool {
		return us.Status.Files[0].Status != v1alpha1.TransferTransferring
	})
	if f := us.Status.Files[0]; f.Status != v1alpha1.TransferReady || anewHits.Load() != 1 {
		t.Fatalf("a PULL to fetch anew once a transfer ended: %+v, %d fetches; want READY", f, anewHits.Load())
	}
}

// TestPullHandedOverWhenTheReplicaStops: a replica that stops mid-PULL hands its fetch over,
// and the next to lead fetches the file anew: a rolling update of one replica loses no PULL,
// and a session whose client asked to complete meanwhile completes.
func TestPullHandedOverWhenTheReplicaStops(t *testing.T) {
	ns := env.Namespace(t)
	opts := startOptions(5 * time.Minute)
	opts.ContentStore = "file://" + t.TempDir()
	op := pullOperatorWith(t, ns, opts)
	m := govmomiManager(t, op.RESTURL, tokens[op.RESTURL])
	var hits atomic.Int32
	id := addSlow(t, m, "stopping", cutOnceSource(t, &hits))
	if err := m.CompleteLibraryItemUpdateSession(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	op.Stop()
	us := byID(t, ns, id)
	if f := us.Status.Files; len(f) != 1 || f[0].Status != v1alpha1.TransferTransferring || f[0].TransferHeartbeat != nil ||
		f[0].BytesTransferred != int64(len(pullPayload)/2) || us.Status.State != v1alpha1.StateActive {
		t.Fatalf("session of a PULL whose replica stopped: %s, files %+v; want ACTIVE, the file TRANSFERRING, handed over, "+
			"with the bytes that arrived", us.Status.State, f)
	}

	next := env.StartOperator(t, ns, pullOptions(opts))
	us = env.WaitFor(t, us, time.Minute, func(us *v1alpha1.UpdateSession) bool { return us.Status.State.Terminal() })
	if f := us.Status.Files[0]; us.Status.State != v1alpha1.StateDone || f.Status != v1alpha1.TransferReady ||
		f.BytesTransferred != int64(len(pullPayload)) || f.FetchRestarts != 1 || hits.Load() != 2 {
		t.Fatalf("session once the next replica leads: %s (%s), file %+v, %d fetches; want DONE, the file READY, fetched anew once",
			us.Status.State, us.Status.ErrorMessage, f, hits.Load())
	}
	if got := storedPull(t, next, us); got != pullPayload {
		t.Fatalf("the store holds %d bytes, not the payload", len(got))
	}
	wantEvent(t, us, controllers.ReasonFetchedAnew)
}

// watchFile watches us for the status of its file name; the function it returns reads the
// status in each version written since, up to the first with status until.
func watchFile(t *testing.T, us *v1alpha1.UpdateSession, name string) func(until v1alpha1.TransferStatus) []v1alpha1.TransferStatus {
	t.Helper()
	w, err := env.Client.Watch(context.Background(), &v1alpha1.UpdateSessionList{}, client.InNamespace(us.Namespace),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: us.ResourceVersion}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return func(until v1alpha1.TransferStatus) []v1alpha1.TransferStatus {
		var seen []v1alpha1.TransferStatus
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ev := <-w.ResultChan():
				cur, ok := ev.Object.(*v1alpha1.UpdateSession)
				if !ok || cur.UID != us.UID {
					continue
				}
				if f := session.File(cur, name); f != nil {
					seen = append(seen, f.Status)
					if f.Status == until {
						return seen
					}
				}
			case <-timeout:
				t.Fatalf("no version of session %s with file %s %s within 30s: %v", us.Name, name, until, seen)
			}
		}
	}
}

// wantEvent waits until an event with reason regards us.
func wantEvent(t *testing.T, us *v1alpha1.UpdateSession, reason string) {
	t.Helper()
	var seen []string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			var list eventsv1.EventList
			if err := env.Client.List(ctx, &list, client.InNamespace(us.Namespace)); err != nil {
				return false, err
			}
			seen = seen[:0]
			for _, ev := range list.Items {
				if ev.Regarding.UID == us.UID {
					if ev.Reason == reason {
						return true, nil
					}
					seen = append(seen, ev.Reason)
				}
			}
			return false, nil
		})
	if err != nil {
		t.Errorf("no %s event for session %s (its events: %v): %v", reason, us.Name, seen, err)
	}
}

// TestPullHandedOverToTheLeader: the fetch of a follower that stops is fetched anew by the
// leader at once, on the hand-over's write, not once a heartbeat would have gone stale.
func TestPullHandedOverToTheLeader(t *testing.T) {
	ns := env.Namespace(t)
	opts := pullOptions(startOptions(5 * time.Minute))
	opts.ContentStore = "file://" + t.TempDir()
	opts.TransferProgressInterval = time.Minute // a heartbeat stale after 3 minutes
	leader, follower := leaderOf(t, env.StartOperatorWith(t, ns, opts, nil, electing(ns)),
		env.StartOperatorWith(t, ns, opts, nil, electing(ns)))
	uploaderOf(t, ns, follower)
	m := govmomiManager(t, follower.RESTURL, tokens[follower.RESTURL])

	var hits atomic.Int32
	id, err := addFrom(t, m, "handed-over", cutOnceSource(t, &hits))
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return hits.Load() == 1, nil }); err != nil {
		t.Fatal("the follower never fetched the file")
	}
	follower.Stop()
	us := env.WaitFor(t, byID(t, ns, id), 30*time.Second, func(us *v1alpha1.UpdateSession) bool {
		return us.Status.Files[0].Status == v1alpha1.TransferReady
	})
	if f := us.Status.Files[0]; f.FetchRestarts != 1 || hits.Load() != 2 {
		t.Fatalf("file fetched by the leader: %+v, %d fetches; want fetched anew once", f, hits.Load())
	}
	if got := storedPull(t, leader, us); got != pullPayload {
		t.Fatalf("the store holds %d bytes, not the payload", len(got))
	}
}

// TestDeadPullFetchedAnew: a PULL whose replica died (its heartbeat went stale) is fetched
// anew by the leader.
func TestDeadPullFetchedAnew(t *testing.T) {
	ns := env.Namespace(t)
	op := pullOperator(t, ns)
	var hits atomic.Int32
	us := deadPull(t, ns, "died", source(t, &hits))
	us = env.WaitFor(t, us, time.Minute, func(us *v1alpha1.UpdateSession) bool {
		return us.Status.Files[0].Status != v1alpha1.TransferTransferring
	})
	if f := us.Status.Files[0]; f.Status != v1alpha1.TransferReady || f.FetchRestarts != 1 || hits.Load() != 1 {
		t.Fatalf("a PULL whose replica died: %+v, %d fetches; want READY, fetched anew once", f, hits.Load())
	}
	if got := storedPull(t, op, us); got != pullPayload {
		t.Fatalf("the store holds %d bytes, not the payload", len(got))
	}
}

// deadPull creates a session with what a replica that died mid-PULL leaves: the PULL file
// disk.vmdk from src, TRANSFERRING with a heartbeat a minute old.
func deadPull(t *testing.T, ns, name string, src *httptest.Server) *v1alpha1.UpdateSession {
	t.Helper()
	us := env.CreateSession(t, testenv.NewSession(ns, name, 0))
	beat := metav1.NewMicroTime(time.Now().Add(-time.Minute))
	us.Status.Files = []v1alpha1.SessionFile{{Name: "disk.vmdk", SourceType: v1alpha1.SourcePull,
		Status: v1alpha1.TransferTransferring, TransferID: "t1", BytesTransferred: 1, TransferHeartbeat: &beat,
		SourceEndpoint: &v1alpha1.SourceEndpoint{URI: src.URL, SSLCertificateThumbprint: soap.ThumbprintSHA1(src.Certificate())}}}
	if err := env.Client.Status().Update(context.Background(), us); err != nil {
		t.Fatal(err)
	}
	return us
}

// TestDeadPullsEnd: a PULL whose fetch died with its replica too often goes ERROR, and a
// session whose completion waits for it fails.
func TestDeadPullsEnd(t *testing.T) {
	ns := env.Namespace(t)
	pullOperator(t, ns)
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		completing bool
		wantState  v1alpha1.SessionState
	}{
		{"idle", false, v1alpha1.StateActive},
		{"completing", true, v1alpha1.StateError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			us := env.CreateSession(t, testenv.NewSession(ns, "dead-"+tc.name, 0))
			// What a replica that died mid-PULL leaves, once the file was fetched anew as often
			// as it may be: a PULL file TRANSFERRING whose heartbeat no longer moves, beside a
			// READY one.
			beat := metav1.NewMicroTime(time.Now().Add(-time.Minute))
			size := int64(3)
			us.Status.Files = []v1alpha1.SessionFile{
				{Name: "disk.vmdk", SourceType: v1alpha1.SourcePull, Status: v1alpha1.TransferTransferring, TransferID: "t1",
					BytesTransferred: 1, TransferHeartbeat: &beat, FetchRestarts: transfer.MaxFetchRestarts, SourceEndpoint: &v1alpha1.SourceEndpoint{URI: "https://example.com/disk.vmdk"}},
				{Name: "a.ovf", SourceType: v1alpha1.SourcePush, Status: v1alpha1.TransferReady, TransferID: "t2", BytesTransferred: 3,
					Size: &size, Checksum: &v1alpha1.FileChecksum{Algorithm: v1alpha1.ChecksumSHA256, Checksum: strings.Repeat("0", 64)}},
			}
			if tc.completing {
				us.Status.CompletionRequested = &beat
			}
			if err := env.Client.Status().Update(ctx, us); err != nil {
				t.Fatal(err)
			}
			us = env.WaitFor(t, us, time.Minute, func(us *v1alpha1.UpdateSession) bool {
				return us.Status.Files[0].Status == v1alpha1.TransferError
			})
			if msg := us.Status.Files[0].ErrorMessage; !strings.Contains(msg, "stopped") {
				t.Errorf("errorMessage of the dead PULL: %q", msg)
			}
			if tc.completing {
				us = env.WaitFor(t, us, time.Minute, func(us *v1alpha1.UpdateSession) bool { return us.Status.State.Terminal() })
			}
			wantEvent(t, us, controllers.ReasonFetchAbandoned)
			if us.Status.State != tc.wantState || us.Status.Files[1].Status != v1alpha1.TransferReady {
				t.Fatalf("session after its PULL died: %s (%s), files %+v; want %s", us.Status.State, us.Status.ErrorMessage,
					us.Status.Files, tc.wantState)
			}
		})
	}
}
