package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/vapi/library"
	"github.com/vmware/govmomi/vim25/soap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/testenv"
	"github.com/contentlib/update-session-operator/internal/transfer"
)

// pattern returns n bytes that differ at every offset within 251, with seed mixed in, so that
// bytes read from the wrong offset, or of another version, show.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i%251) ^ seed
	}
	return b
}

// commitContent commits files as the next content version of item in st, as an update session
// completing does, and returns its record.
func commitContent(t *testing.T, st *content.Store, ns, item string, files map[string][]byte) content.Record {
	t.Helper()
	ctx := context.Background()
	session := types.UID(uuid.NewString())
	var change content.Change
	for name, data := range files {
		key := content.FileKey(ns, item, session, name)
		got, err := st.Put(ctx, key, bytes.NewReader(data), content.Expect{})
		if err != nil {
			t.Fatal(err)
		}
		change.Put = append(change.Put, content.File{Name: name, Size: got.Size, Checksum: got.Checksum, Key: key})
	}
	rec, err := st.Commit(ctx, ns, item, session, change)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// newDownload creates a download session of item with the Kubernetes client (timeout seconds
// of idle, 0: the operator's default) and waits until the reconciler initialised it, pinning
// the item's content version.
func newDownload(t *testing.T, ns, item string, timeout int32) *v1alpha1.DownloadSession {
	t.Helper()
	ds := &v1alpha1.DownloadSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "dl-"},
		Spec:       v1alpha1.DownloadSessionSpec{LibraryItemID: item},
	}
	if timeout > 0 {
		ds.Spec.ExpirationTimeoutSeconds = ptr.To(timeout)
	}
	if err := env.Client.Create(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	return waitDownload(t, ds, func(ds *v1alpha1.DownloadSession) bool { return ds.Status.ID != "" })
}

// waitDownload waits until the download session ds satisfies cond, and returns it.
func waitDownload(t *testing.T, ds *v1alpha1.DownloadSession, cond func(*v1alpha1.DownloadSession) bool) *v1alpha1.DownloadSession {
	t.Helper()
	var cur v1alpha1.DownloadSession
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			cur = v1alpha1.DownloadSession{}
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(ds), &cur)
			return err == nil && cond(&cur), nil
		})
	if err != nil {
		t.Fatalf("download session %s never got there; last status %+v", ds.Name, cur.Status)
	}
	return &cur
}

// writeDownload changes the status of the download session ds with change, as the operator
// would: how these tests prepare files and end sessions without the REST service.
func writeDownload(t *testing.T, ds *v1alpha1.DownloadSession, change func(*v1alpha1.DownloadSession)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur v1alpha1.DownloadSession
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ds), &cur); err != nil {
			return err
		}
		change(&cur)
		return env.Client.Status().Update(context.Background(), &cur)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// oneFileDownload commits data as the one file name of item in s's store, and returns a
// download session of item (timeout: its expirationTimeoutSeconds, 0 for the default) with the
// file prepared, and the file's download URI.
func oneFileDownload(t *testing.T, s transferServer, ns, item, name string, data []byte,
	timeout int32) (*v1alpha1.DownloadSession, string) {
	t.Helper()
	commitContent(t, s.store, ns, item, map[string][]byte{name: data})
	ds := newDownload(t, ns, item, timeout)
	return ds, prepareDirect(t, s.url, s.store, ds, name)
}

// prepareDirect records file name of ds PREPARED as prepare does (the size and checksum of its
// pinned record, a fresh transfer id, the session touched), and returns its download URI on
// srv.
func prepareDirect(t *testing.T, srv string, st *content.Store, ds *v1alpha1.DownloadSession, name string) string {
	t.Helper()
	rec, err := st.Version(context.Background(), ds.Namespace, ds.Spec.LibraryItemID, ds.Status.ContentVersion)
	if err != nil {
		t.Fatal(err)
	}
	f := v1alpha1.DownloadFile{Name: name, Status: v1alpha1.PreparePrepared, TransferID: transfer.NewID()}
	for _, rf := range rec.Files {
		if rf.Name == name {
			f.Size = rf.Size
			f.Checksum = &v1alpha1.FileChecksum{Algorithm: v1alpha1.ChecksumAlgorithm(rf.Checksum.Algorithm), Checksum: rf.Checksum.Value}
		}
	}
	uri := downloadURI(t, srv, ds.UID, name, f.TransferID)
	writeDownload(t, ds, func(ds *v1alpha1.DownloadSession) {
		ds.Status.Files = append(ds.Status.Files, f)
		timeout := ds.Status.ExpirationTime.Sub(ds.Status.LastActivity.Time)
		now := metav1.NewMicroTime(time.Now().UTC().Truncate(time.Microsecond))
		ds.Status.LastActivity, ds.Status.ExpirationTime = &now, ptr.To(metav1.NewMicroTime(now.Add(timeout)))
	})
	return uri
}

// downloadURI is the download URI of file name, prepared with transfer id tid, of the session
// uid: its capability made with the operator's key.
func downloadURI(t *testing.T, srv string, uid types.UID, name, tid string) string {
	t.Helper()
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: testenv.OperatorNamespace, Name: transfer.KeySecretName}
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) { return env.Client.Get(ctx, key, &secret) == nil, nil })
	if err != nil {
		t.Fatal("the key of transfer capabilities was never created")
	}
	return fmt.Sprintf("%s/transfer/%s/%s/%s", srv, uid, tid, transfer.Capability(secret.Data["key"], uid, name, tid))
}

// fetchURI sends a GET (or another method) of uri with the header pairs, no credentials unless they
// name some.
func fetchURI(t *testing.T, method, uri string, header ...string) response {
	t.Helper()
	return send(t, method, uri, nil, 0, header...)
}

// downloadStores are the content stores a download test runs on: a directory, and S3. Each
// changes the options of one (sub)test's operator.
var downloadStores = map[string]func(*testing.T, *operator.Options){
	"directory": func(*testing.T, *operator.Options) {},
	"S3": func(t *testing.T, o *operator.Options) {
		s3 := testenv.StartS3Server(t)
		s3.SetEnv(t)
		o.Content, o.ContentStore = nil, s3.URL()
	},
}

// storeOf opens the content store the operator of s runs on, as a client of it.
func storeOf(t *testing.T, s transferServer) *content.Store {
	t.Helper()
	if s.opts.Content != nil {
		return s.store
	}
	st, err := content.Open(context.Background(), s.opts.ContentStore)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestDownloadServesAFile(t *testing.T) {
	for name, tweak := range downloadStores {
		t.Run(name, func(t *testing.T) {
			ns := env.Namespace(t)
			s := startTransfers(t, ns, func(o *operator.Options) { tweak(t, o) })
			st := storeOf(t, s)
			data := pattern(1<<20+17, 0)
			rec := commitContent(t, st, ns, "item-get", map[string][]byte{"disk.vmdk": data, "README": []byte("read me")})
			ds := newDownload(t, ns, "item-get", 0)
			if ds.Status.ContentVersion != rec.Version {
				t.Fatalf("the session pinned version %d, want %d", ds.Status.ContentVersion, rec.Version)
			}
			uri := prepareDirect(t, s.url, st, ds, "disk.vmdk")
			before := waitDownload(t, ds, func(ds *v1alpha1.DownloadSession) bool { return len(ds.Status.Files) == 1 }).
				Status.LastActivity.Time

			whole := fetchURI(t, http.MethodGet, uri)
			etag := ""
			for _, f := range rec.Files {
				if f.Name == "disk.vmdk" {
					etag = `"` + f.Checksum.Algorithm + ":" + f.Checksum.Value + `"`
				}
			}
			if whole.status != http.StatusOK || !bytes.Equal(whole.body, data) ||
				whole.header.Get("Content-Length") != fmt.Sprint(len(data)) || whole.header.Get("Accept-Ranges") != "bytes" ||
				whole.header.Get("ETag") != etag || whole.header.Get("Last-Modified") == "" {
				t.Fatalf("GET: %d, %d bytes (equal %v), headers %v", whole.status, len(whole.body), bytes.Equal(whole.body, data), whole.header)
			}
			head := fetchURI(t, http.MethodHead, uri)
			if head.status != http.StatusOK || len(head.body) != 0 || head.header.Get("Content-Length") != fmt.Sprint(len(data)) {
				t.Fatalf("HEAD: %d, %d bytes, headers %v", head.status, len(head.body), head.header)
			}
			part := fetchURI(t, http.MethodGet, uri, "Range", "bytes=1000-1999")
			if part.status != http.StatusPartialContent || !bytes.Equal(part.body, data[1000:2000]) ||
				part.header.Get("Content-Range") != fmt.Sprintf("bytes 1000-1999/%d", len(data)) {
				t.Fatalf("Range 1000-1999: %d, %d bytes, headers %v", part.status, len(part.body), part.header)
			}
			same := fetchURI(t, http.MethodGet, uri, "Range", "bytes=10-19", "If-Range", etag)
			other := fetchURI(t, http.MethodGet, uri, "Range", "bytes=10-19", "If-Range", `"SHA256:0000"`)
			if same.status != http.StatusPartialContent || other.status != http.StatusOK || !bytes.Equal(other.body, data) {
				t.Fatalf("If-Range: the same version %d, another %d (%d bytes); want 206 and the whole file", same.status,
					other.status, len(other.body))
			}
			if nm := fetchURI(t, http.MethodGet, uri, "If-None-Match", etag); nm.status != http.StatusNotModified {
				t.Fatalf("If-None-Match of its ETag: %d, want 304", nm.status)
			}

			got := waitDownload(t, ds, func(ds *v1alpha1.DownloadSession) bool {
				return ds.Status.Files[0].BytesTransferred == int64(len(data))
			})
			if !got.Status.LastActivity.After(before) || got.Status.State != v1alpha1.StateActive {
				t.Fatalf("after the downloads: %+v; want lastActivity after %v", got.Status, before)
			}
		})
	}
}

func TestDownloadRangesInParallelAndResumed(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	data := pattern(4<<20+3, 7)
	_, uri := oneFileDownload(t, s, ns, "item-ranges", "disk.vmdk", data, 0)

	const readers = 16
	parts := make([][]byte, readers)
	errs := make([]error, readers)
	size := (len(data) + readers - 1) / readers
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			first, last := i*size, min((i+1)*size, len(data))-1
			resp, err := trySend(http.MethodGet, uri, nil, 0, "Range", fmt.Sprintf("bytes=%d-%d", first, last))
			if err == nil && resp.status != http.StatusPartialContent {
				err = fmt.Errorf("reader %d: %d %s", i, resp.status, resp.body)
			}
			parts[i], errs[i] = resp.body, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Join(parts, nil); !bytes.Equal(got, data) {
		t.Fatalf("16 ranged readers: %d bytes, not the file's %d", len(got), len(data))
	}

	// A download cut after some bytes resumes with a Range from where it stopped.
	req, err := http.NewRequest(http.MethodGet, uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := localClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 300_001)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // cut: the rest is never read
	rest := fetchURI(t, http.MethodGet, uri, "Range", fmt.Sprintf("bytes=%d-", len(head)))
	if rest.status != http.StatusPartialContent || !bytes.Equal(head, data[:len(head)]) || !bytes.Equal(rest.body, data[len(head):]) {
		t.Fatalf("resumed at %d: %d, %d bytes; the two parts are not the file", len(head), rest.status, len(rest.body))
	}
}

func TestDownloadRefusals(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	commitContent(t, s.store, ns, "item-refused", map[string][]byte{"a.bin": []byte("aaaa"), "b.bin": []byte("bbbb")})
	ds := newDownload(t, ns, "item-refused", 0)
	uriA := prepareDirect(t, s.url, s.store, ds, "a.bin")
	uriB := prepareDirect(t, s.url, s.store, ds, "b.bin")
	other := newDownload(t, ns, "item-refused", 0)
	uriOther := prepareDirect(t, s.url, s.store, other, "a.bin")
	if resp := fetchURI(t, http.MethodGet, uriA); resp.status != http.StatusOK || string(resp.body) != "aaaa" {
		t.Fatalf("the capability of the file: %d %s", resp.status, resp.body)
	}
	split := func(u string) []string { return strings.Split(strings.TrimPrefix(u, s.url+"/transfer/"), "/") }
	a, b, o := split(uriA), split(uriB), split(uriOther)
	for name, uri := range map[string]string{
		"another file's capability":                s.url + "/transfer/" + a[0] + "/" + a[1] + "/" + b[2],
		"another session's capability":             s.url + "/transfer/" + a[0] + "/" + a[1] + "/" + o[2],
		"the capability with another session's id": s.url + "/transfer/" + o[0] + "/" + a[1] + "/" + a[2],
		"a made-up capability":                     s.url + "/transfer/" + a[0] + "/" + a[1] + "/" + strings.Repeat("A", 43),
		"an unknown session":                       s.url + "/transfer/0a5e6d4b-0000-4000-8000-000000000000/" + a[1] + "/" + a[2],
		"an update session's upload path":          s.url + "/transfer/" + newSession(t, s.url, "item-up") + "/" + a[1] + "/" + a[2],
	} {
		if resp := fetchURI(t, http.MethodGet, uri); resp.status != http.StatusUnauthorized || !bytes.Contains(resp.body, []byte("UNAUTHENTICATED")) {
			t.Errorf("%s: %d %s, want 401 UNAUTHENTICATED", name, resp.status, resp.body)
		}
	}

	// Credentials instead of the capability: a caller who may get the session, and one who
	// may not, who learns nothing of it.
	noCapability := s.url + "/transfer/" + a[0] + "/" + a[1] + "/" + strings.Repeat("A", 43)
	reader := env.ServiceAccountOn(t, ns, "reader", []string{"downloadsessions"}, "get")
	updater := env.ServiceAccountOn(t, ns, "updater", []string{"updatesessions"}, testenv.EditorVerbs...)
	if resp := fetchURI(t, http.MethodGet, noCapability, "Authorization", "Bearer "+reader.Token); resp.status != http.StatusOK ||
		string(resp.body) != "aaaa" {
		t.Errorf("a reader of download sessions with its token: %d %s", resp.status, resp.body)
	}
	if resp := fetchURI(t, http.MethodGet, noCapability, "Authorization", "Bearer "+updater.Token); resp.status != http.StatusNotFound {
		t.Errorf("a caller who may not read download sessions: %d %s, want 404", resp.status, resp.body)
	}

	// A file not PREPARED, and a session that ended, are refused.
	writeDownload(t, ds, func(ds *v1alpha1.DownloadSession) { ds.Status.Files[1].Status = v1alpha1.PrepareError })
	refusedEventually(t, uriB, http.StatusBadRequest, "NOT_ALLOWED_IN_CURRENT_STATE")
	writeDownload(t, ds, func(ds *v1alpha1.DownloadSession) { ds.Status.State = v1alpha1.StateCanceled })
	refusedEventually(t, uriA, http.StatusBadRequest, "NOT_ALLOWED_IN_CURRENT_STATE")
	if err := env.Client.Delete(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	refusedEventually(t, uriOther, http.StatusUnauthorized, "UNAUTHENTICATED")
}

// refusedEventually waits until a GET of uri is refused with status and error type, as it is
// once the operator's cache has seen the change that refuses it.
func refusedEventually(t *testing.T, uri string, status int, errorType string) {
	t.Helper()
	var resp response
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) {
			resp = fetchURI(t, http.MethodGet, uri)
			return resp.status == status && bytes.Contains(resp.body, []byte(errorType)), nil
		})
	if err != nil {
		t.Fatalf("GET %s: %d %s, want %d %s", uri, resp.status, resp.body, status, errorType)
	}
}

// slowRead reads the body of a GET of uri chunk bytes at a time, pausing between chunks, and
// returns what it read and how the body ended.
func slowRead(uri string, chunk int, pause time.Duration, after func(read int)) ([]byte, error) {
	resp, err := localClient.Get(uri)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET: %d", resp.StatusCode)
	}
	var got []byte
	buf := make([]byte, chunk)
	for {
		n, err := io.ReadFull(resp.Body, buf)
		got = append(got, buf[:n]...)
		if after != nil {
			after(len(got))
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) && len(got) == int(resp.ContentLength):
			return got, nil
		case err != nil:
			return got, err
		}
		time.Sleep(pause)
	}
}

// TestDownloadKeepsItsSessionAlive: a download that reads for three times its session's
// timeout keeps the session alive, as an upload does; a session canceled meanwhile cuts the
// download still running.
func TestDownloadKeepsItsSessionAlive(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	// Larger than what the sockets between client and server buffer, so that the server sends
	// as the client reads.
	data := pattern(48<<20, 3)
	ds, uri := oneFileDownload(t, s, ns, "item-slow", "disk.vmdk", data, 2)

	// The session is looked at while the download still runs, 32 MiB in (over 4s: twice the
	// timeout), not once it ended: the last MiBs sit in the sockets' buffers, and the session
	// may expire 2s after the replica handed them on, before the client has read them all.
	start := time.Now()
	var during v1alpha1.DownloadSession
	var errDuring error
	got, err := slowRead(uri, 1<<20, 130*time.Millisecond, func(read int) { // over 6s: three times the timeout
		if read == 32<<20 {
			errDuring = env.Client.Get(context.Background(), client.ObjectKeyFromObject(ds), &during)
		}
	})
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("a slow download: %d bytes, %v", len(got), err)
	}
	if errDuring != nil || during.Status.State != v1alpha1.StateActive || !during.Status.LastActivity.After(start.Add(3*time.Second)) {
		t.Fatalf("4s into a download from a session with a 2s timeout: %v %+v", errDuring, during.Status)
	}

	// The session is canceled once the download's first MiB arrived: a session canceled before
	// the request is let in refuses it at the door, which is no cut.
	done, flowing := make(chan error, 1), make(chan struct{})
	go func() {
		got, err := slowRead(uri, 1<<20, 100*time.Millisecond, func(read int) {
			if read == 1<<20 {
				close(flowing)
			}
		})
		if err == nil {
			err = fmt.Errorf("the download ran to its end (%d bytes)", len(got))
		}
		done <- err
	}()
	select {
	case <-flowing:
	case err := <-done:
		t.Fatalf("before the download's first MiB: %v", err)
	}
	writeDownload(t, ds, func(ds *v1alpha1.DownloadSession) { ds.Status.State = v1alpha1.StateCanceled })
	select {
	case err := <-done:
		if strings.Contains(err.Error(), "ran to its end") {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a download of a canceled session was never cut")
	}
}

// TestDownloadRequestsWriteOncePerInterval: many HEADs and small GETs of one session within
// a progress interval write its activity once, not once each.
func TestDownloadRequestsWriteOncePerInterval(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, func(o *operator.Options) { o.TransferProgressInterval = time.Hour })
	ds, uri := oneFileDownload(t, s, ns, "item-small", "small.bin", pattern(10_000, 1), 0)
	ds = waitDownload(t, ds, func(ds *v1alpha1.DownloadSession) bool { return len(ds.Status.Files) == 1 })

	w, err := env.Client.Watch(context.Background(), &v1alpha1.DownloadSessionList{}, client.InNamespace(ns),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: ds.ResourceVersion}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	begin := time.Now()
	for i := range 20 {
		method, header := http.MethodHead, []string{}
		if i%2 == 1 {
			method, header = http.MethodGet, []string{"Range", fmt.Sprintf("bytes=%d-%d", i*100, i*100+99)}
		}
		if resp := fetchURI(t, method, uri, header...); resp.status/100 != 2 {
			t.Fatalf("%s %d: %d %s", method, i, resp.status, resp.body)
		}
	}
	activities := map[string]bool{}
	timeout := time.After(2 * time.Second) // writes would show within it
	for {
		select {
		case ev := <-w.ResultChan():
			if d, ok := ev.Object.(*v1alpha1.DownloadSession); ok && ev.Type == watch.Modified && d.UID == ds.UID &&
				d.Status.LastActivity.After(begin) {
				activities[d.Status.LastActivity.String()] = true
			}
			continue
		case <-timeout:
		}
		break
	}
	if len(activities) != 1 {
		t.Fatalf("20 requests within a progress interval wrote lastActivity %d times (%v), want once", len(activities), activities)
	}
}

// TestDownloadReadsItsPinnedVersion: an update session completing a new version of the item
// while a download session reads it does not change the bytes the download session serves,
// and the collector keeps that version while the session exists, not after.
func TestDownloadReadsItsPinnedVersion(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, func(o *operator.Options) {
		// A grace long enough for the cache to show a new update session before its staged bytes
		// look orphaned, short enough for the test.
		o.ContentCollectInterval, o.ContentCollectGrace = 100*time.Millisecond, 500*time.Millisecond
	})
	upload := func(data []byte) {
		id := newSession(t, s.url, "item-pinned")
		uri := addFile(t, s.url, ns, id, promising("disk.vmdk", data))
		if resp := put(t, uri, bytes.NewReader(data), int64(len(data))); resp.status != http.StatusOK {
			t.Fatalf("PUT: %d %s", resp.status, resp.body)
		}
		noContent(t, do(t, http.MethodPost, apiURLs.action(s.url, id, "complete"), ""))
		env.WaitFor(t, byID(t, ns, id), 30*time.Second, func(us *v1alpha1.UpdateSession) bool {
			return us.Status.State == v1alpha1.StateDone
		})
	}
	v1, v2 := pattern(16<<20, 1), pattern(16<<20, 2)
	upload(v1)
	ds := newDownload(t, ns, "item-pinned", 0)
	uri := prepareDirect(t, s.url, s.store, ds, "disk.vmdk")

	// A download under way while version 2 completes reads version 1 to its end.
	resp, err := localClient.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	upload(v2)
	if rec, err := s.store.Current(context.Background(), ns, "item-pinned"); err != nil || rec.Version != 2 {
		t.Fatalf("the item's content: version %d, %v; want 2", rec.Version, err)
	}
	time.Sleep(1500 * time.Millisecond) // version 1 superseded longer than the grace, and several collections
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(first, v1[:len(first)]) || !bytes.Equal(rest, v1[len(first):]) {
		t.Fatalf("the download under way: %d bytes, %v; not version 1", len(first)+len(rest), err)
	}
	if again := fetchURI(t, http.MethodGet, uri); again.status != http.StatusOK || !bytes.Equal(again.body, v1) {
		t.Fatalf("a download after version 2 completed: %d, %d bytes; not version 1", again.status, len(again.body))
	}
	if _, err := s.store.Version(context.Background(), ns, "item-pinned", 1); err != nil {
		t.Fatalf("version 1, which a download session reads, was collected: %v", err)
	}

	if err := env.Client.Delete(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			_, err := s.store.Version(ctx, ns, "item-pinned", 1)
			return errors.Is(err, content.ErrNotExist), nil
		})
	if err != nil {
		t.Fatal("version 1 was kept once no session read it")
	}
}

// TestDownloadSessionIdleExpiry: a download session nobody uses is deleted at its deadline,
// not before, and its download URIs no longer hold.
func TestDownloadSessionIdleExpiry(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	commitContent(t, s.store, ns, "item-idle", map[string][]byte{"f": []byte("f")})
	w, err := env.Client.Watch(context.Background(), &v1alpha1.DownloadSessionList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ds := newDownload(t, ns, "item-idle", 2)
	uri := prepareDirect(t, s.url, s.store, ds, "f")
	var last *v1alpha1.DownloadSession
	timeout := time.After(30 * time.Second)
	for deleted := false; !deleted; {
		select {
		case ev := <-w.ResultChan():
			if d, ok := ev.Object.(*v1alpha1.DownloadSession); ok && d.UID == ds.UID {
				last, deleted = d, ev.Type == watch.Deleted
			}
		case <-timeout:
			t.Fatal("the idle download session was not deleted")
		}
	}
	if at := time.Now(); at.Before(last.Status.ExpirationTime.Time) {
		t.Fatalf("deleted at %v, before its expirationTime %v", at, last.Status.ExpirationTime)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ds), &v1alpha1.DownloadSession{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the expired session: %v", err)
	}
	refusedEventually(t, uri, http.StatusUnauthorized, "UNAUTHENTICATED")
}

// TestGovmomiDownloadsAFile runs the download path as govc library.export does, with govmomi's
// own calls: the item's content uploaded through an update session, then a download session
// created, its files listed, the file prepared and polled to PREPARED, and its
// download_endpoint read with the rest.Client's Download: the bytes uploaded. A Range GET of
// 1,000 bytes answers 206 with exactly those.
func TestGovmomiDownloadsAFile(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	m := govmomiManager(t, s.url, tokens[s.url])
	ctx := context.Background()
	data := pattern(3<<20+5, 9)

	up, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "photon-6"})
	if err != nil {
		t.Fatalf("update create: %v", err)
	}
	promise := promising("photon.iso", data)
	add, err := m.AddLibraryItemFile(ctx, up, library.UpdateFile{Name: "photon.iso", SourceType: "PUSH", Size: *promise.size,
		Checksum: &library.Checksum{Algorithm: "SHA256", Checksum: promise.sha256}})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	upload, err := url.Parse(add.UploadEndpoint.URI)
	if err != nil {
		t.Fatal(err)
	}
	p := soap.DefaultUpload
	p.ContentLength = int64(len(data))
	if err := m.Upload(ctx, bytes.NewReader(data), upload, &p); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if err := m.CompleteLibraryItemUpdateSession(ctx, up); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if err := m.WaitOnLibraryItemUpdateSession(ctx, up, 10*time.Millisecond, nil); err != nil {
		t.Fatalf("wait: %v", err)
	}

	id, err := m.CreateLibraryItemDownloadSession(ctx, library.Session{LibraryItemID: "photon-6"})
	if err != nil {
		t.Fatalf("download create: %v", err)
	}
	files, err := m.ListLibraryItemDownloadSessionFile(ctx, id)
	if err != nil || len(files) != 1 || files[0].Name != "photon.iso" || files[0].Status != "UNPREPARED" {
		t.Fatalf("files: %+v, %v", files, err)
	}
	if _, err := m.PrepareLibraryItemDownloadSessionFile(ctx, id, "photon.iso"); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	var file *library.DownloadFile
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		file, err = m.GetLibraryItemDownloadSessionFile(ctx, id, "photon.iso")
		return err == nil && file.Status == "PREPARED", err
	})
	if err != nil || file.DownloadEndpoint == nil {
		t.Fatalf("the file never got PREPARED with an endpoint: %+v, %v", file, err)
	}
	if file.Size != int64(len(data)) || file.Checksum == nil || file.Checksum.Checksum != promise.sha256 {
		t.Fatalf("prepared file %+v (checksum %+v), want size %d and SHA256 %s", file, file.Checksum, len(data), promise.sha256)
	}

	endpoint, err := url.Parse(file.DownloadEndpoint.URI)
	if err != nil {
		t.Fatal(err)
	}
	body, n, err := m.Download(ctx, endpoint, &soap.DefaultDownload)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	got, err := io.ReadAll(body)
	_ = body.Close()
	if err != nil || n != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("download: %d bytes of a Content-Length of %d, %v; not the bytes uploaded", len(got), n, err)
	}

	ranged := soap.DefaultDownload
	ranged.Headers = map[string]string{"Range": "bytes=1000000-1000999"}
	resp, err := m.DownloadRequest(ctx, endpoint, &ranged)
	if err != nil {
		t.Fatalf("a Range GET: %v", err)
	}
	part, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, data[1_000_000:1_001_000]) {
		t.Fatalf("a Range GET of 1,000 bytes: %s, %d bytes, %v; want 206 and exactly those", resp.Status, len(part), err)
	}
}
