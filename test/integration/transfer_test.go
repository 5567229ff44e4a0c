package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vmware/govmomi/vapi/library"
	"github.com/vmware/govmomi/vim25/soap"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// transferServer is an operator of a transfer test: its REST URL and its content store.
type transferServer struct {
	url   string
	store *content.Store
	op    *testenv.Operator
	opts  operator.Options
}

// startTransfers runs the operator for ns on a content store of its own, with a progress
// interval short enough for a test to see several reports, and opts changed by tweak.
func startTransfers(t *testing.T, ns string, tweak func(*operator.Options)) transferServer {
	t.Helper()
	store, err := content.Open(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	opts := startOptions(5 * time.Minute)
	opts.Content, opts.TransferProgressInterval = store, 200*time.Millisecond
	if tweak != nil {
		tweak(&opts)
	}
	op := env.StartOperator(t, ns, opts)
	tokens[op.RESTURL] = env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	t.Cleanup(func() { delete(tokens, op.RESTURL) })
	return transferServer{url: op.RESTURL, store: store, op: op, opts: opts}
}

// pushFile is a PUSH file a test adds: its name and what the add promises.
type pushFile struct {
	name   string
	size   *int64
	sha256 string
}

// promising returns the file name promising exactly data.
func promising(name string, data []byte) pushFile {
	sum := sha256.Sum256(data)
	return pushFile{name: name, size: ptr.To(int64(len(data))), sha256: hex.EncodeToString(sum[:])}
}

// addFile adds f to session id through the /api form of srv's file service, as the uploader,
// and returns the upload URI it answers.
func addFile(t *testing.T, srv, _, id string, f pushFile) string {
	t.Helper()
	spec := map[string]any{"name": f.name, "source_type": "PUSH"}
	if f.size != nil {
		spec["size"] = *f.size
	}
	if f.sha256 != "" {
		spec["checksum_info"] = map[string]string{"algorithm": "SHA256", "checksum": f.sha256}
	}
	body, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Status         string `json:"status"`
		UploadEndpoint struct {
			URI string `json:"uri"`
		} `json:"upload_endpoint"`
	}
	resp := do(t, http.MethodPost, apiURLs.item(srv, id)+"/file", string(body))
	// The status of add's success is the conformance table's to check, not this helper's.
	if resp.status == http.StatusOK {
		resp.status = http.StatusCreated
	}
	apiURLs.result(t, resp, http.StatusCreated, &info)
	if info.Status != "WAITING_FOR_TRANSFER" || !strings.HasPrefix(info.UploadEndpoint.URI, srv+"/transfer/"+id+"/") {
		t.Fatalf("add answered %+v", info)
	}
	return info.UploadEndpoint.URI
}

// put sends body to uri with PUT, with no credentials unless header pairs name some, and
// Content-Length when length is not negative (else chunked).
func put(t *testing.T, uri string, body io.Reader, length int64, header ...string) response {
	t.Helper()
	return send(t, http.MethodPut, uri, body, length, header...)
}

// send is put with another method.
func send(t *testing.T, method, uri string, body io.Reader, length int64, header ...string) response {
	t.Helper()
	resp, err := trySend(method, uri, body, length, header...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	return resp
}

// trySend is send that returns its error rather than end the test: for other goroutines.
func trySend(method, uri string, body io.Reader, length int64, header ...string) (response, error) {
	req, err := http.NewRequest(method, uri, body)
	if err != nil {
		return response{}, err
	}
	req.ContentLength = length
	if length == 0 {
		req.Body = http.NoBody
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := localClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}, err
}

// fileNamed returns file name of session id of ns, failing the test when there is none.
func fileNamed(t *testing.T, ns, id, name string) v1alpha1.SessionFile {
	t.Helper()
	for _, f := range byID(t, ns, id).Status.Files {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("session %s has no file %q", id, name)
	return v1alpha1.SessionFile{}
}

// waitFile waits until file name of session id of ns satisfies cond, and returns it.
func waitFile(t *testing.T, ns, id, name string, cond func(v1alpha1.SessionFile) bool) v1alpha1.SessionFile {
	t.Helper()
	var f v1alpha1.SessionFile
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) {
			f = fileNamed(t, ns, id, name)
			return cond(f), nil
		})
	if err != nil {
		t.Fatalf("file %q never got there; last %+v", name, f)
	}
	return f
}

// staged reports whether the store holds bytes for file name of session id.
func staged(t *testing.T, s transferServer, ns, id, name string) bool {
	t.Helper()
	us := byID(t, ns, id)
	_, err := s.store.Stat(context.Background(), content.FileKey(ns, us.Spec.LibraryItemID, us.UID, name))
	if err != nil && !errors.Is(err, content.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// newSession creates a session through the API, for item.
func newSession(t *testing.T, srv, item string) string {
	t.Helper()
	return apiURLs.create(t, srv, `{"library_item_id":"`+item+`"}`)
}

func TestTransferHoldsItsPromises(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	id := newSession(t, s.url, "item-promises")
	data := bytes.Repeat([]byte("0123456789"), 1000)
	uri := addFile(t, s.url, ns, id, promising("disk.vmdk", data))

	mismatches := testutil.ToFloat64(metrics.Transfers.WithLabelValues("PUSH", metrics.TransferMismatch))
	ready := testutil.ToFloat64(metrics.Transfers.WithLabelValues("PUSH", metrics.TransferReady))
	received := testutil.ToFloat64(metrics.TransferBytes.WithLabelValues("PUSH"))
	wrong := bytes.Clone(data)
	wrong[5000] ^= 1
	resp := put(t, uri, bytes.NewReader(wrong), int64(len(wrong)))
	refused(t, resp, http.StatusBadRequest, "INVALID_ARGUMENT")
	f := fileNamed(t, ns, id, "disk.vmdk")
	if f.Status != v1alpha1.TransferError || !strings.Contains(f.ErrorMessage, "checksum") ||
		f.BytesTransferred != int64(len(data)) {
		t.Fatalf("after a wrong checksum: %+v", f)
	}
	if staged(t, s, ns, id, "disk.vmdk") {
		t.Fatal("bytes with a wrong checksum were kept")
	}

	// Chunked, so that the size is found wrong only once the bytes are in.
	resp = put(t, uri, io.MultiReader(bytes.NewReader(data), strings.NewReader("x")), -1)
	refused(t, resp, http.StatusBadRequest, "INVALID_ARGUMENT")
	if f := fileNamed(t, ns, id, "disk.vmdk"); f.Status != v1alpha1.TransferError || !strings.Contains(f.ErrorMessage, "size") {
		t.Fatalf("after a wrong size: %+v", f)
	}
	if staged(t, s, ns, id, "disk.vmdk") {
		t.Fatal("bytes of a wrong size were kept")
	}
	// A Content-Length that is not the size promised is refused before a byte is read.
	refused(t, put(t, uri, bytes.NewReader(data[1:]), int64(len(data)-1)), http.StatusBadRequest, "INVALID_ARGUMENT")

	if resp := put(t, uri, bytes.NewReader(data), int64(len(data))); resp.status != http.StatusOK {
		t.Fatalf("the right bytes: %d %s", resp.status, resp.body)
	}
	f = fileNamed(t, ns, id, "disk.vmdk")
	want := promising("disk.vmdk", data)
	if f.Status != v1alpha1.TransferReady || f.ErrorMessage != "" || f.BytesTransferred != *want.size ||
		f.Size == nil || *f.Size != *want.size || f.Checksum == nil || f.Checksum.Checksum != want.sha256 {
		t.Fatalf("after the right bytes: %+v", f)
	}
	if !staged(t, s, ns, id, "disk.vmdk") {
		t.Fatal("a READY file's bytes are not in the store")
	}
	rec, err := s.store.Current(context.Background(), ns, "item-promises")
	if err != nil || len(rec.Files) != 0 {
		t.Fatalf("the item's content before complete: %+v, %v; want none", rec, err)
	}
	if got := testutil.ToFloat64(metrics.Transfers.WithLabelValues("PUSH", metrics.TransferMismatch)) - mismatches; got != 2 {
		t.Errorf("transfers counted as mismatched: %v, want 2", got)
	}
	if got := testutil.ToFloat64(metrics.Transfers.WithLabelValues("PUSH", metrics.TransferReady)) - ready; got != 1 {
		t.Errorf("transfers counted as ready: %v, want 1", got)
	}
	// Three bodies were read whole (the chunked one to one byte past the size promised).
	if got := testutil.ToFloat64(metrics.TransferBytes.WithLabelValues("PUSH")) - received; got != float64(3*len(data)+1) {
		t.Errorf("bytes counted: %v, want %d", got, 3*len(data)+1)
	}
	// A READY file is not sent again: removing and adding it is how to send other bytes.
	refused(t, put(t, uri, bytes.NewReader(data), int64(len(data))), http.StatusBadRequest, "NOT_ALLOWED_IN_CURRENT_STATE")
}

func TestTransferCutThenRetried(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	id := newSession(t, s.url, "item-cut")
	data := bytes.Repeat([]byte("abcdefgh"), 128<<10) // 1 MiB
	uri := addFile(t, s.url, ns, id, promising("disk.vmdk", data))

	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	half := len(data) / 2
	if _, err := fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", u.Path, u.Host, len(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	waitFile(t, ns, id, "disk.vmdk", func(f v1alpha1.SessionFile) bool { return f.Status == v1alpha1.TransferTransferring })
	_ = conn.Close()
	f := waitFile(t, ns, id, "disk.vmdk", func(f v1alpha1.SessionFile) bool { return f.Status == v1alpha1.TransferError })
	if f.BytesTransferred <= 0 || f.BytesTransferred > int64(half) || !strings.Contains(f.ErrorMessage, "cut") {
		t.Fatalf("a transfer cut after %d bytes: %+v", half, f)
	}
	if staged(t, s, ns, id, "disk.vmdk") {
		t.Fatal("the bytes of a cut transfer were kept")
	}
	if resp := put(t, uri, bytes.NewReader(data), int64(len(data))); resp.status != http.StatusOK {
		t.Fatalf("the retried PUT: %d %s", resp.status, resp.body)
	}
	if f := fileNamed(t, ns, id, "disk.vmdk"); f.Status != v1alpha1.TransferReady || f.BytesTransferred != int64(len(data)) {
		t.Fatalf("after the retried PUT: %+v", f)
	}
}

// slowBody is a request body the test feeds: a PUT of it stays in flight until it is closed.
type slowBody struct {
	w    *io.PipeWriter
	done chan response
}

// startPut starts a chunked PUT of a body the test writes to.
func startPut(t *testing.T, uri string) *slowBody {
	t.Helper()
	r, w := io.Pipe()
	b := &slowBody{w: w, done: make(chan response, 1)}
	go func() {
		resp, err := trySend(http.MethodPut, uri, r, -1)
		if err != nil {
			t.Errorf("PUT %s: %v", uri, err) // the test's wait for the answer then fails on status 0
		}
		b.done <- resp
	}()
	t.Cleanup(func() { _ = w.CloseWithError(errors.New("test over")) })
	return b
}

func (b *slowBody) write(t *testing.T, p []byte) {
	t.Helper()
	if _, err := b.w.Write(p); err != nil {
		t.Fatal(err)
	}
}

// finish ends the body and returns the answer.
func (b *slowBody) finish() response {
	_ = b.w.Close()
	return <-b.done
}

func TestTransferSecondOneRefused(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, func(o *operator.Options) { o.ContentMaxTransfers = 2 })
	id := newSession(t, s.url, "item-busy")
	data := []byte("the bytes of the first transfer")
	uri := addFile(t, s.url, ns, id, promising("a.vmdk", data))
	other := addFile(t, s.url, ns, id, promising("b.vmdk", data))
	third := addFile(t, s.url, ns, id, promising("c.vmdk", data))

	first := startPut(t, uri)
	first.write(t, data[:4])
	waitFile(t, ns, id, "a.vmdk", func(f v1alpha1.SessionFile) bool { return f.Status == v1alpha1.TransferTransferring })
	resp := put(t, uri, bytes.NewReader(data), int64(len(data)))
	if resp.status != http.StatusConflict || resp.errorType(t) != "RESOURCE_BUSY" {
		t.Fatalf("a second transfer into the file: %d %s, want 409 RESOURCE_BUSY", resp.status, resp.body)
	}
	second := startPut(t, other)
	second.write(t, data[:4])
	waitFile(t, ns, id, "b.vmdk", func(f v1alpha1.SessionFile) bool { return f.Status == v1alpha1.TransferTransferring })
	resp = put(t, third, bytes.NewReader(data), int64(len(data)))
	if resp.status != http.StatusServiceUnavailable || resp.errorType(t) != "SERVICE_UNAVAILABLE" ||
		resp.header.Get("Retry-After") == "" {
		t.Fatalf("a transfer past --content-max-transfers: %d %s %v, want 503 with Retry-After", resp.status, resp.body, resp.header)
	}
	if f := fileNamed(t, ns, id, "c.vmdk"); f.Status != v1alpha1.TransferWaiting {
		t.Fatalf("a file refused past the cap changed: %+v", f)
	}
	for _, b := range []*slowBody{first, second} {
		b.write(t, data[4:])
		if resp := b.finish(); resp.status != http.StatusOK {
			t.Fatalf("the first transfers: %d %s", resp.status, resp.body)
		}
	}
	if f := fileNamed(t, ns, id, "a.vmdk"); f.Status != v1alpha1.TransferReady {
		t.Fatalf("after the first transfer: %+v", f)
	}
}

func TestTransferCapabilityBindsOneFile(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	data := []byte("payload")
	id := newSession(t, s.url, "item-cap-1")
	otherID := newSession(t, s.url, "item-cap-2")
	uri := addFile(t, s.url, ns, id, promising("a.vmdk", data))
	sibling := addFile(t, s.url, ns, id, promising("b.vmdk", data))
	elsewhere := addFile(t, s.url, ns, otherID, promising("a.vmdk", data))

	parts := func(u string) []string { return strings.Split(strings.TrimPrefix(u, s.url+"/transfer/"), "/") }
	p, sib, other := parts(uri), parts(sibling), parts(elsewhere)
	forged := map[string]string{
		"another file's capability":                s.url + "/transfer/" + p[0] + "/" + p[1] + "/" + sib[2],
		"another session's capability":             s.url + "/transfer/" + p[0] + "/" + p[1] + "/" + other[2],
		"the capability with another session's id": s.url + "/transfer/" + other[0] + "/" + p[1] + "/" + p[2],
		"a made-up capability":                     s.url + "/transfer/" + p[0] + "/" + p[1] + "/" + strings.Repeat("A", 43),
		"an unknown session":                       s.url + "/transfer/0a5e6d4b-0000-4000-8000-000000000000/" + p[1] + "/" + p[2],
	}
	for name, u := range forged {
		resp := put(t, u, bytes.NewReader(data), int64(len(data)))
		if resp.status != http.StatusUnauthorized || resp.errorType(t) != "UNAUTHENTICATED" {
			t.Fatalf("%s: %d %s, want 401 UNAUTHENTICATED", name, resp.status, resp.body)
		}
	}
	for _, f := range byID(t, ns, id).Status.Files {
		if f.Status != v1alpha1.TransferWaiting {
			t.Fatalf("a refused transfer changed file %+v", f)
		}
	}
	// The caller's usual credentials authorize instead of the capability, as for keep-alive.
	resp := put(t, forged["another file's capability"], bytes.NewReader(data), int64(len(data)),
		"Authorization", "Bearer "+tokens[s.url])
	if resp.status != http.StatusOK {
		t.Fatalf("with the caller's credentials: %d %s", resp.status, resp.body)
	}
	if f := fileNamed(t, ns, id, "a.vmdk"); f.Status != v1alpha1.TransferReady {
		t.Fatalf("after a transfer with credentials: %+v", f)
	}
	viewer := env.ServiceAccount(t, ns, "viewer", "get", "list", "watch").Token
	resp = put(t, sibling+"x", bytes.NewReader(data), int64(len(data)), "Authorization", "Bearer "+viewer)
	if resp.status != http.StatusForbidden || resp.errorType(t) != "UNAUTHORIZED" {
		t.Fatalf("a reader's credentials: %d %s, want 403 UNAUTHORIZED", resp.status, resp.body)
	}
}

func TestTransferKeepsItsSessionAlive(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	id := env.CreateSession(t, testenv.NewSession(ns, "slow", 2)).Status.ID
	data := bytes.Repeat([]byte("z"), 40)
	uri := addFile(t, s.url, ns, id, promising("slow.iso", data))

	b := startPut(t, uri)
	start := time.Now()
	for i := range data {
		b.write(t, data[i:i+1])
		time.Sleep(150 * time.Millisecond) // 6s in all: three times the session's timeout
	}
	if resp := b.finish(); resp.status != http.StatusOK {
		t.Fatalf("a slow transfer: %d %s", resp.status, resp.body)
	}
	got := byID(t, ns, id)
	if got.Status.State != v1alpha1.StateActive || !got.Status.LastActivity.After(start.Add(4*time.Second)) {
		t.Fatalf("after a transfer of %v into a session with a 2s timeout: %+v", time.Since(start), got.Status)
	}
}

func TestTransferStagedBytesGoWithAnIdleSession(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	id := env.CreateSession(t, testenv.NewSession(ns, "idle", 4)).Status.ID
	data := []byte("staged, never completed")
	uri := addFile(t, s.url, ns, id, promising("left.bin", data))
	if resp := put(t, uri, bytes.NewReader(data), int64(len(data))); resp.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", resp.status, resp.body)
	}
	if !staged(t, s, ns, id, "left.bin") {
		t.Fatal("the file's bytes are not staged")
	}
	cur := byID(t, ns, id)
	key := content.FileKey(ns, cur.Spec.LibraryItemID, cur.UID, "left.bin")
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			gone := apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(cur), &v1alpha1.UpdateSession{}))
			_, err := s.store.Stat(ctx, key)
			return gone && errors.Is(err, content.ErrNotExist), nil
		})
	if err != nil {
		t.Fatal("the session did not expire, or its staged bytes are still in the store")
	}
}

// grantItemReads lets the service account name of ns read the library items there: the right
// the item file service checks.
func grantItemReads(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-items"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"libraryitems"},
			Verbs: []string{"get"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGovmomiUploadsAFile runs the upload path as govc library.import does: create, add each
// file, govmomi's own Upload of the endpoint add answered, validate, complete, and the item's
// files with their sizes and checksums. m.Upload is the rest.Client's Upload, which govc calls.
func TestGovmomiUploadsAFile(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	grantItemReads(t, ns, "uploader")
	m := govmomiManager(t, s.url, tokens[s.url])
	ctx := context.Background()

	id, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "photon-5"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	files := map[string][]byte{
		"photon.iso":  bytes.Repeat([]byte("iso9660 "), 64<<10),
		"README.txt":  []byte("read me\n"),
		"unsized.bin": bytes.Repeat([]byte{0xa5}, 3000),
	}
	for name, data := range files {
		promise := promising(name, data)
		spec := library.UpdateFile{Name: name, SourceType: "PUSH", Size: *promise.size,
			Checksum: &library.Checksum{Algorithm: "SHA256", Checksum: promise.sha256}}
		if name == "unsized.bin" {
			spec.Size, spec.Checksum = 0, nil // promised nothing: held to nothing
		}
		update, err := m.AddLibraryItemFile(ctx, id, spec)
		if err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
		u, err := url.Parse(update.UploadEndpoint.URI)
		if err != nil {
			t.Fatal(err)
		}
		p := soap.DefaultUpload
		p.ContentLength = int64(len(data))
		if err := m.Upload(ctx, bytes.NewReader(data), u, &p); err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
	}
	validation, err := m.ValidateLibraryItemUpdateSessionFile(ctx, id)
	if err != nil || validation.HasErrors || len(validation.MissingFiles) > 0 || len(validation.InvalidFiles) > 0 {
		t.Fatalf("validate: %+v, %v", validation, err)
	}
	if err := m.CompleteLibraryItemUpdateSession(ctx, id); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if err := m.WaitOnLibraryItemUpdateSession(ctx, id, 10*time.Millisecond, nil); err != nil {
		t.Fatalf("wait: %v", err)
	}
	got, err := m.ListLibraryItemFiles(ctx, "photon-5")
	if err != nil {
		t.Fatalf("the item's files: %v", err)
	}
	if len(got) != len(files) {
		t.Fatalf("the item's files: %+v, want %d", got, len(files))
	}
	for _, f := range got {
		want := promising(f.Name, files[f.Name])
		if f.Size == nil || *f.Size != *want.size || f.Checksum == nil || f.Checksum.Checksum != want.sha256 ||
			!strings.EqualFold(f.Checksum.Algorithm, "SHA256") {
			t.Fatalf("item file %s: %+v (checksum %+v), want size %d and SHA256 %s", f.Name, f, f.Checksum, *want.size, want.sha256)
		}
	}
}

// TestTransferAcrossReplicasOnS3 runs two replicas on one S3 store: a file added on one is sent
// to the other and completed on the first, and the item's content is the bytes sent.
func TestTransferAcrossReplicasOnS3(t *testing.T) {
	s3 := testenv.StartS3Server(t)
	s3.SetEnv(t)
	ns := env.Namespace(t)
	opts := startOptions(5 * time.Minute)
	opts.ContentStore, opts.TransferProgressInterval = s3.URL(), 200*time.Millisecond
	a := env.StartOperatorWith(t, ns, opts, nil, electing(ns))
	b := env.StartOperatorWith(t, ns, opts, nil, electing(ns))
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	grantItemReads(t, ns, "uploader")
	for _, op := range []*testenv.Operator{a, b} {
		tokens[op.RESTURL] = token
		t.Cleanup(func() { delete(tokens, op.RESTURL) })
	}

	id := newSession(t, a.RESTURL, "item-s3")
	data := bytes.Repeat([]byte("multipart "), 700<<10) // 7 MB: more than one part
	uri := addFile(t, a.RESTURL, ns, id, promising("disk.vmdk", data))
	onB := b.RESTURL + strings.TrimPrefix(uri, a.RESTURL)
	if resp := put(t, onB, bytes.NewReader(data), int64(len(data))); resp.status != http.StatusOK {
		t.Fatalf("PUT to the other replica: %d %s", resp.status, resp.body)
	}
	noContent(t, do(t, http.MethodPost, apiURLs.action(a.RESTURL, id, "complete"), ""))
	env.WaitFor(t, byID(t, ns, id), 30*time.Second, func(us *v1alpha1.UpdateSession) bool {
		return us.Status.State == v1alpha1.StateDone
	})

	var files []struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	}
	apiURLs.result(t, do(t, http.MethodGet, a.RESTURL+"/api/content/library/item/item-s3/file", ""), http.StatusOK, &files)
	if len(files) != 1 || files[0].Name != "disk.vmdk" || files[0].Size != int64(len(data)) {
		t.Fatalf("the item's files: %+v", files)
	}
	store, err := content.Open(context.Background(), s3.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	rec, err := store.Current(context.Background(), ns, "item-s3")
	if err != nil || len(rec.Files) != 1 {
		t.Fatalf("the item's record: %+v, %v", rec, err)
	}
	r, err := store.Open(context.Background(), rec.Files[0].Key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the item's bytes in S3: %d bytes, %v; want the %d sent", len(got), err, len(data))
	}
}

func TestTransferCancelAndFailDiscardAtOnce(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	data := []byte("staged, then given up")
	for _, action := range []string{"cancel", "fail"} {
		id := newSession(t, s.url, "item-"+action)
		uri := addFile(t, s.url, ns, id, promising("f.bin", data))
		if resp := put(t, uri, bytes.NewReader(data), int64(len(data))); resp.status != http.StatusOK {
			t.Fatalf("PUT: %d %s", resp.status, resp.body)
		}
		if !staged(t, s, ns, id, "f.bin") {
			t.Fatal("the file's bytes are not staged")
		}
		noContent(t, do(t, http.MethodPost, apiURLs.action(s.url, id, action), ""))
		if staged(t, s, ns, id, "f.bin") {
			t.Fatalf("the staged bytes of a session are still in the store once %s answered", action)
		}
	}
}

// fullDisk is a directory bucket on a disk with room bytes left: a write past them fails as
// a full disk's does (ENOSPC).
type fullDisk struct {
	content.Bucket
	room int64
}

func (b fullDisk) NewWriter(ctx context.Context, key string) (content.Writer, error) {
	w, err := b.Bucket.NewWriter(ctx, key)
	return &fullWriter{Writer: w, room: b.room}, err
}

type fullWriter struct {
	content.Writer
	room int64
}

func (w *fullWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= w.room {
		w.room -= int64(len(p))
		return w.Writer.Write(p)
	}
	n, _ := w.Writer.Write(p[:w.room])
	w.room = 0
	return n, &os.PathError{Op: "write", Path: "staged", Err: syscall.ENOSPC}
}

func TestTransferIntoAFullStore(t *testing.T) {
	ns := env.Namespace(t)
	dir, err := content.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := startTransfers(t, ns, func(o *operator.Options) {
		o.Content = content.New(fullDisk{Bucket: dir, room: 64 << 10}, time.Now)
	})
	id := newSession(t, s.url, "item-full")
	small := []byte("fits")
	large := bytes.Repeat([]byte("does not fit "), 20<<10)
	smallURI := addFile(t, s.url, ns, id, promising("small.txt", small))
	uri := addFile(t, s.url, ns, id, promising("large.iso", large))

	resp := send(t, http.MethodPost, uri, bytes.NewReader(large), int64(len(large)))
	if resp.status != http.StatusInsufficientStorage || resp.errorType(t) != "SERVICE_UNAVAILABLE" {
		t.Fatalf("a transfer into a full store: %d %s, want 507 SERVICE_UNAVAILABLE", resp.status, resp.body)
	}
	f := fileNamed(t, ns, id, "large.iso")
	if f.Status != v1alpha1.TransferError || !strings.Contains(f.ErrorMessage, "out of space") {
		t.Fatalf("after a full store: %+v", f)
	}
	if staged(t, s, ns, id, "large.iso") {
		t.Fatal("a file that did not fit was kept in part")
	}
	if f := fileNamed(t, ns, id, "small.txt"); f.Status != v1alpha1.TransferWaiting {
		t.Fatalf("another file changed: %+v", f)
	}
	// POST, as VMware's samples send, works as PUT does.
	if resp := send(t, http.MethodPost, smallURI, bytes.NewReader(small), int64(len(small))); resp.status != http.StatusOK {
		t.Fatalf("POST of a file that fits: %d %s", resp.status, resp.body)
	}
}

func TestTransferStopsWithItsReplica(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	id := newSession(t, s.url, "item-stop")
	data := bytes.Repeat([]byte("rolling update "), 1000)
	uri := addFile(t, s.url, ns, id, promising("disk.vmdk", data))

	b := startPut(t, uri)
	b.write(t, data[:100])
	waitFile(t, ns, id, "disk.vmdk", func(f v1alpha1.SessionFile) bool { return f.BytesTransferred == 100 })
	s.op.Stop()
	resp := <-b.done
	if resp.status != http.StatusServiceUnavailable || resp.errorType(t) != "SERVICE_UNAVAILABLE" {
		t.Fatalf("a transfer when its replica stops: %d %s, want 503", resp.status, resp.body)
	}
	f := fileNamed(t, ns, id, "disk.vmdk")
	if f.Status != v1alpha1.TransferError || f.BytesTransferred != 100 || !strings.Contains(f.ErrorMessage, "stopped") {
		t.Fatalf("after its replica stopped: %+v", f)
	}
	// Another replica takes the same upload URI at once.
	other := env.StartOperator(t, ns, s.opts)
	again := other.RESTURL + strings.TrimPrefix(uri, s.url)
	if resp := put(t, again, bytes.NewReader(data), int64(len(data))); resp.status != http.StatusOK {
		t.Fatalf("the file sent again to another replica: %d %s", resp.status, resp.body)
	}
}

// TestTransferBusyOnAnotherReplica: a transfer running on one replica holds its file on every
// other, through its heartbeat in the status.
func TestTransferBusyOnAnotherReplica(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	other := env.StartOperator(t, ns, s.opts) // the same content store: another replica
	id := newSession(t, s.url, "item-two")
	data := []byte("bytes sent to the first replica")
	uri := addFile(t, s.url, ns, id, promising("disk.vmdk", data))

	first := startPut(t, uri)
	first.write(t, data[:5])
	waitFile(t, ns, id, "disk.vmdk", func(f v1alpha1.SessionFile) bool { return f.Status == v1alpha1.TransferTransferring })
	resp := put(t, other.RESTURL+strings.TrimPrefix(uri, s.url), bytes.NewReader(data), int64(len(data)))
	if resp.status != http.StatusConflict || resp.errorType(t) != "RESOURCE_BUSY" {
		t.Fatalf("a second transfer on another replica: %d %s, want 409 RESOURCE_BUSY", resp.status, resp.body)
	}
	first.write(t, data[5:])
	if resp := first.finish(); resp.status != http.StatusOK {
		t.Fatalf("the first transfer: %d %s", resp.status, resp.body)
	}
}
