package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/vmware/govmomi/vapi/library"
	vapirest "github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
)

// The download modes: the operator, and the anchor, a plain Go file server (http.ServeContent
// of a file holding the same bytes on the same disk, as little as a download server can do).
const (
	modeDownloadOperator = "operator"
	modeDownloadAnchor   = "plain Go file server"
	// Over TLS: the manager with --rest-cert-dir, the anchor with the same certificate.
	modeDownloadOperatorTLS = "operator over TLS"
	modeDownloadAnchorTLS   = "Go file server over TLS"
)

// downloadSize is the size of the file both servers serve.
const downloadSize = 1 << 30

// downloadReaders are the download loads: one client reading the whole file, and clients each
// reading a disjoint part of it with a Range request, all at once.
var downloadReaders = []int{1, 16}

// Targets of the downloads (issue 34).
const (
	minDownloadRatio  = 0.8
	maxDownloadRSSMiB = 64
)

// downloadRounds is how many times the operator and the anchor take turns at each load; the
// report keeps each one's best round, as it does for uploads.
const downloadRounds = 5

// The library item and file the operator serves: uploaded through its own update session first,
// so that the download reads a committed content version.
const (
	downloadItem = "bench-download"
	downloadName = "disk.iso"
)

// downloadResult is one download load on one server: readers clients reading size bytes in all.
type downloadResult struct {
	mode    string
	size    int64
	readers int
	// took is the best round's time from the first request sent to the last byte read.
	took   time.Duration
	rounds []time.Duration
}

// mibps is the load's throughput in MiB/s.
func (d downloadResult) mibps() float64 { return float64(d.size) / (1 << 20) / d.took.Seconds() }

// downloadFigures are the download phase's results.
type downloadFigures struct {
	results []downloadResult
	// rssBase and rssPeak are the manager's resident memory before the downloads and at most
	// during them, in MiB.
	rssBase, rssPeak float64
}

// byteRange is a part of a file: length bytes from offset.
type byteRange struct{ offset, length int64 }

// header is the part as a Range header's value.
func (r byteRange) header() string {
	return fmt.Sprintf("bytes=%d-%d", r.offset, r.offset+r.length-1)
}

// splitRanges cuts size bytes into n disjoint parts, in order, that cover them all; the last
// takes what does not divide evenly.
func splitRanges(size int64, n int) []byteRange {
	parts := make([]byteRange, n)
	each := size / int64(n)
	for i := range parts {
		parts[i] = byteRange{offset: int64(i) * each, length: each}
	}
	parts[n-1].length = size - parts[n-1].offset
	return parts
}

// measureDownloads uploads a file through the operator (its local-directory store), writes the
// same bytes into a file on the same disk for the anchor, and has them take turns at each
// download load, watching the manager's memory meanwhile; then the same over TLS, as the chart
// serves by default: a manager with --rest-cert-dir on the same store, and the anchor serving
// TLS with the same certificate.
func (b *bench) measureDownloads(ctx context.Context) (*downloadFigures, error) {
	ns, err := b.namespace(ctx, "download")
	if err != nil {
		return nil, err
	}
	token, err := b.downloader(ctx, ns)
	if err != nil {
		return nil, err
	}
	store, anchorDir := filepath.Join(b.work, "content-download"), filepath.Join(b.work, "download-anchor")
	defer func() { _ = os.RemoveAll(store); _ = os.RemoveAll(anchorDir) }() // the phase's 2 GiB, once all stopped
	f := &downloadFigures{}
	plain := downloadPass{modes: [2]string{modeDownloadOperator, modeDownloadAnchor}, api: b.http, c: downloadClient(),
		token: token, anchorFile: filepath.Join(anchorDir, downloadName)}
	err = b.withManager(func(m *managerProcess) error {
		step(fmt.Sprintf("downloads: uploading %d MiB through the operator, and the same bytes for the anchor", downloadSize>>20))
		if err := commitFile(ctx, m.restURL, token, downloadSize, payloadSum(downloadSize)); err != nil {
			return fmt.Errorf("uploading the file to download: %w", err)
		}
		if err := writeHashed(anchorDir, downloadName, newPayload(downloadSize), true); err != nil {
			return err
		}
		f.rssBase, _ = m.rss()
		peak := sampleRSS(m)
		defer peak()
		results, err := plain.run(ctx, m)
		f.results, f.rssPeak = append(f.results, results...), peak()
		return err
	}, "--content-store=file://"+store)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "    manager RSS %.0f MiB before, at most %.0f MiB during the downloads: %.0f MiB more\n",
		f.rssBase, f.rssPeak, f.rssPeak-f.rssBase)

	certDir := filepath.Join(b.work, "download-cert")
	roots, err := writeServingCert(certDir)
	if err != nil {
		return nil, err
	}
	overTLS := downloadPass{modes: [2]string{modeDownloadOperatorTLS, modeDownloadAnchorTLS}, api: trusting(b.http, roots),
		c: trusting(downloadClient(), roots), token: token, anchorFile: plain.anchorFile, certDir: certDir}
	err = b.withManager(func(m *managerProcess) error {
		results, err := overTLS.run(ctx, m)
		f.results = append(f.results, results...)
		return err
	}, "--content-store=file://"+store, "--rest-cert-dir="+certDir)
	return f, err
}

// withManager runs do with a manager started with extra, and stops it after.
func (b *bench) withManager(do func(m *managerProcess) error, extra ...string) error {
	m, err := b.startManager(extra...)
	if err != nil {
		return err
	}
	defer m.stop()
	return do(m)
}

// downloadPass is one pass of the download loads: the operator and the anchor, plain or over TLS.
type downloadPass struct {
	// modes name the operator's and the anchor's results.
	modes [2]string
	// api calls the operator's download sessions; c downloads.
	api, c     *http.Client
	token      string
	anchorFile string
	// certDir holds the certificate both serve TLS with; empty: plain HTTP.
	certDir string
}

// run opens a download session of the committed file on m, starts the anchor, reads each once,
// unmeasured, checking the bytes, then has the two take turns at each load.
func (p downloadPass) run(ctx context.Context, m *managerProcess) ([]downloadResult, error) {
	dls := &downloadSessions{http: p.api, base: m.restURL + downloadSessionPath, token: p.token}
	id, uri, err := dls.open(ctx, downloadItem, downloadName)
	if err != nil {
		return nil, err
	}
	defer func() { _ = dls.delete(context.Background(), id) }()
	anchor, err := startFileAnchor(p.anchorFile, p.certDir)
	if err != nil {
		return nil, err
	}
	defer anchor.stop()
	sides := [2]struct{ mode, uri string }{{p.modes[0], uri}, {p.modes[1], anchor.url + "/" + downloadName}}
	step(fmt.Sprintf("downloads (%s): each server read once, unmeasured, checking its bytes (both files are in the "+
		"page cache after)", p.modes[0]))
	for _, s := range sides {
		if err := checkDownload(ctx, p.c, s.uri, downloadSize, payloadSum(downloadSize)); err != nil {
			return nil, fmt.Errorf("%s: %w", s.mode, err)
		}
	}
	var results []downloadResult
	for _, readers := range downloadReaders {
		step(fmt.Sprintf("downloads (%s): %d reader(s) of %d MiB, the operator and the anchor taking turns", p.modes[0],
			readers, downloadSize>>20))
		res := [2]downloadResult{}
		for i, s := range sides {
			res[i] = downloadResult{mode: s.mode, size: downloadSize, readers: readers}
		}
		for r := range downloadRounds {
			for _, i := range turns(r) {
				took, err := downloadOnce(ctx, p.c, sides[i].uri, downloadSize, readers)
				if err != nil {
					return nil, fmt.Errorf("%s, %d readers: %w", sides[i].mode, readers, err)
				}
				res[i].rounds = append(res[i].rounds, took)
			}
		}
		for _, r := range res {
			r.took = slices.Min(r.rounds)
			printDownload(r)
			results = append(results, r)
		}
	}
	return results, nil
}

// turns is the order of the two sides in round r: operator, anchor, anchor, operator, ..., so
// that neither always runs on the machine the other just left.
func turns(r int) []int {
	if r%2 == 1 {
		return []int{1, 0}
	}
	return []int{0, 1}
}

// downloader creates the service account "downloader", allowed to upload through update
// sessions and to download through download sessions in ns, and returns a token of it.
func (b *bench) downloader(ctx context.Context, ns string) (string, error) {
	return b.accountWith(ctx, ns, "downloader", rbacv1.PolicyRule{
		APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{sessionsResource, "downloadsessions"},
		Verbs: []string{"get", "list", "create", "update", "delete"},
	})
}

// commitFile makes size bytes of the payload, whose SHA-256 is sum, the content of the library
// item downloadItem as govc library.import does: an update session, the file added (PUSH, with
// its checksum), its bytes PUT to the upload endpoint, complete.
func commitFile(ctx context.Context, base, token string, size int64, sum string) error {
	u, err := url.Parse(base + "/sdk")
	if err != nil {
		return err
	}
	rc := vapirest.NewClient(&vim25.Client{Client: soap.NewClient(u, true)})
	rc.SessionID(token)
	m := library.NewManager(rc)
	id, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: downloadItem})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f, err := m.AddLibraryItemFile(ctx, id, library.UpdateFile{Name: downloadName, SourceType: "PUSH", Size: size,
		Checksum: &library.Checksum{Algorithm: "SHA256", Checksum: sum}})
	if err != nil {
		return fmt.Errorf("add: %w", err)
	}
	if err := put(ctx, http.DefaultClient, upload{uri: f.UploadEndpoint.URI}, size); err != nil {
		return err
	}
	if err := m.CompleteLibraryItemUpdateSession(ctx, id); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	return nil
}

// downloadSessionPath is the download-session service of the /api form.
const downloadSessionPath = "/api/content/library/item/download-session"

// downloadSessions calls the operator's download-session service in its /api form, as a
// client following VMware's published API does, with a bearer token.
type downloadSessions struct {
	http        *http.Client
	base, token string
}

// fileInfo is the part of a download session's File.Info the bench reads.
type fileInfo struct {
	Name             string `json:"name"`
	Status           string `json:"status"`
	DownloadEndpoint *struct {
		URI string `json:"uri"`
	} `json:"download_endpoint"`
	ErrorMessage *struct {
		DefaultMessage string `json:"default_message"`
	} `json:"error_message"`
}

// prepareTimeout bounds how long a prepared file may take to become PREPARED.
const prepareTimeout = 30 * time.Second

// open creates a download session on item, prepares its file name, polls the file until it is
// PREPARED, and returns the session's id and the file's download URI.
func (d *downloadSessions) open(ctx context.Context, item, name string) (id, uri string, err error) {
	if err := d.call(ctx, http.MethodPost, "", map[string]string{"library_item_id": item}, http.StatusCreated, &id); err != nil {
		return "", "", fmt.Errorf("create: %w", err)
	}
	var info fileInfo
	if err := d.call(ctx, http.MethodPost, "/"+id+"/file?action=prepare",
		map[string]string{"file_name": name, "endpoint_type": "HTTPS"}, http.StatusOK, &info); err != nil {
		return id, "", fmt.Errorf("prepare: %w", err)
	}
	for deadline := time.Now().Add(prepareTimeout); info.Status != "PREPARED"; time.Sleep(100 * time.Millisecond) {
		if info.Status == "ERROR" || time.Now().After(deadline) {
			return id, "", fmt.Errorf("file %s is %s, not PREPARED: %+v", name, info.Status, info.ErrorMessage)
		}
		if err := d.call(ctx, http.MethodGet, "/"+id+"/file?file_name="+url.QueryEscape(name), nil, http.StatusOK, &info); err != nil {
			return id, "", fmt.Errorf("get file: %w", err)
		}
	}
	if info.DownloadEndpoint == nil || info.DownloadEndpoint.URI == "" {
		return id, "", fmt.Errorf("file %s is PREPARED without a download_endpoint", name)
	}
	return id, info.DownloadEndpoint.URI, nil
}

// delete deletes the download session id.
func (d *downloadSessions) delete(ctx context.Context, id string) error {
	return d.call(ctx, http.MethodDelete, "/"+id, nil, http.StatusNoContent, nil)
}

// call sends body (if any) as JSON to the service's path and decodes the answer into out (if
// any), which must have status want.
func (d *downloadSessions) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s answered %d, want %d: %s", method, req.URL, resp.StatusCode, want, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// downloadClient is the HTTP client of the downloads: it asks for the bytes as they are (no
// gzip), as curl and govmomi's Download do.
func downloadClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64,
		IdleConnTimeout: time.Minute}}
}

// downloadOnce reads size bytes from uri with readers clients at once, each a disjoint part (a
// Range request, when more than one), and returns the time from the first request to the last
// byte.
func downloadOnce(ctx context.Context, c *http.Client, uri string, size int64, readers int) (time.Duration, error) {
	parts := splitRanges(size, readers)
	start := time.Now()
	errs := make(chan error, len(parts))
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Go(func() { errs <- fetch(ctx, c, uri, p, readers > 1, &discard{}) })
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return took, nil
}

// checkDownload reads uri whole and then in 16 ranged parts, and checks that each answer holds
// the payload's bytes: the warm-up of each server, which also puts its file in the page cache.
func checkDownload(ctx context.Context, c *http.Client, uri string, size int64, sum string) error {
	h := sha256.New()
	if err := fetch(ctx, c, uri, byteRange{0, size}, false, h); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("GET %s: SHA-256 %s, want %s", uri, got, sum)
	}
	for _, p := range splitRanges(size, 16) {
		h := sha256.New()
		if err := fetch(ctx, c, uri, p, true, h); err != nil {
			return err
		}
		if got, want := hex.EncodeToString(h.Sum(nil)), rangeSum(p); got != want {
			return fmt.Errorf("GET %s, Range %s: SHA-256 %s, want %s", uri, p.header(), got, want)
		}
	}
	return nil
}

// rangeSum is the SHA-256 of the payload's bytes in p.
func rangeSum(p byteRange) string {
	h := sha256.New()
	_, _ = io.Copy(h, newPayloadAt(p.offset, p.length))
	return hex.EncodeToString(h.Sum(nil))
}

// fetch GETs the part p of uri (with a Range request if ranged, else the whole) into w, and
// checks that the answer is 206 with exactly that part, or 200 with the whole.
func fetch(ctx context.Context, c *http.Client, uri string, p byteRange, ranged bool, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return err
	}
	want := http.StatusOK
	if ranged {
		req.Header.Set("Range", p.header())
		want = http.StatusPartialContent
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET answered %d, want %d: %s", resp.StatusCode, want, body)
	}
	if ranged {
		want := fmt.Sprintf("bytes %d-%d/", p.offset, p.offset+p.length-1)
		if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, want) {
			return fmt.Errorf("GET %s answered Content-Range %q", p.header(), cr)
		}
	}
	n, err := io.CopyBuffer(w, resp.Body, make([]byte, 1<<20))
	if err != nil {
		return err
	}
	if n != p.length || resp.ContentLength != p.length {
		return fmt.Errorf("GET %s: read %d bytes (Content-Length %d), want %d", p.header(), n, resp.ContentLength, p.length)
	}
	return nil
}

// discard keeps nothing: io.Discard without its ReadFrom, which would read in 8 KiB pieces
// rather than through fetch's buffer.
type discard struct{}

func (*discard) Write(p []byte) (int, error) { return len(p), nil }

// sampleRSS samples the manager's resident memory every 50 ms until the returned function is
// called, which returns the highest sample.
func sampleRSS(m *managerProcess) (peak func() float64) {
	stop, done := make(chan struct{}), make(chan float64)
	go func() {
		high, _ := m.rss()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- high
				return
			case <-tick.C:
				if cur, _ := m.rss(); cur > high {
					high = cur
				}
			}
		}
	}()
	return sync.OnceValue(func() float64 { close(stop); return <-done })
}

func printDownload(r downloadResult) {
	fmt.Fprintf(os.Stderr, "    %-24s %2d reader(s) of %4d MiB: %6.0f MiB/s (best of %v)\n", r.mode, r.readers, r.size>>20,
		r.mibps(), r.rounds)
}

// fileAnchorProcess is the plain Go file server, a process of its own as the manager is.
type fileAnchorProcess struct{ *child }

// startFileAnchor runs bench -serve-file path, over TLS with the certificate in certDir when
// it is not empty.
func startFileAnchor(path, certDir string) (*fileAnchorProcess, error) {
	c, err := startChild("-serve-file="+path, "-serve-cert-dir="+certDir)
	if err != nil {
		return nil, fmt.Errorf("file anchor: %w", err)
	}
	return &fileAnchorProcess{c}, nil
}

// serveFile is the download anchor: it serves the file at path, whatever the request's path,
// and prints its URL; over TLS with certDir's tls.crt and tls.key when certDir is not empty.
func serveFile(path, certDir string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if certDir == "" {
		fmt.Println("http://" + ln.Addr().String())
		return http.Serve(ln, fileHandler(path))
	}
	fmt.Println("https://" + ln.Addr().String())
	return http.ServeTLS(ln, fileHandler(path), filepath.Join(certDir, "tls.crt"), filepath.Join(certDir, "tls.key"))
}

// fileHandler answers GET and HEAD of the file at path with http.ServeContent, opening it for
// each request as a file server does: Range, If-Range and 206, and the kernel's sendfile.
func fileHandler(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer func() { _ = f.Close() }()
		fi, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.ServeContent(w, r, filepath.Base(path), fi.ModTime(), f)
	})
}

// find returns the result of mode with readers clients.
func (f *downloadFigures) find(mode string, readers int) downloadResult {
	for _, r := range f.results {
		if r.mode == mode && r.readers == readers {
			return r
		}
	}
	return downloadResult{}
}

// targets are the rows of the download targets: each load's throughput against the anchor's,
// plain (issue 34's targets) and over TLS (the chart's default, held to the same bar), and the
// manager's memory during the plain downloads.
func (f *downloadFigures) targets() []target {
	if f == nil {
		return nil
	}
	var rows []target
	for _, pass := range []struct{ op, anchor, what string }{
		{modeDownloadOperator, modeDownloadAnchor, "a plain Go file server"},
		{modeDownloadOperatorTLS, modeDownloadAnchorTLS, "a Go file server over TLS"},
	} {
		for _, readers := range downloadReaders {
			op, anchor := f.find(pass.op, readers), f.find(pass.anchor, readers)
			if op.took == 0 || anchor.took == 0 {
				continue // a pass that did not run
			}
			ratio := op.mibps() / anchor.mibps()
			over := ""
			if pass.op == modeDownloadOperatorTLS {
				over = " over TLS"
			}
			name := fmt.Sprintf("download %d MiB%s >= %.1fx %s (same disk)", downloadSize>>20, over, minDownloadRatio, pass.what)
			if readers > 1 {
				name = fmt.Sprintf("%d ranged readers of one %d MiB file%s >= %.1fx %s", readers, downloadSize>>20, over,
					minDownloadRatio, pass.what)
			}
			rows = append(rows, target{name: name,
				measured: fmt.Sprintf("%.0f MiB/s", op.mibps()), anchor: fmt.Sprintf("%.0f MiB/s", anchor.mibps()),
				ratio: fmt.Sprintf("%.2fx", ratio), met: ratio >= minDownloadRatio,
			})
		}
	}
	growth := f.rssPeak - f.rssBase
	rows = append(rows, target{name: fmt.Sprintf("manager RSS growth while serving the %d MiB downloads", downloadSize>>20),
		measured: fmt.Sprintf("%.0f MiB (%.0f to %.0f)", growth, f.rssBase, f.rssPeak),
		anchor:   fmt.Sprintf("<= %d MiB", maxDownloadRSSMiB), ratio: "-", met: growth <= maxDownloadRSSMiB})
	return rows
}

// section describes the download loads and tables them.
func (f *downloadFigures) section(p func(string, ...any)) {
	if f == nil {
		return
	}
	p("## Downloads\n\n")
	p("A %d MiB file is uploaded through the operator (an update session, add, PUT, complete: a\n", downloadSize>>20)
	p("committed content version in its local-directory store), then read back as a vSphere client\n")
	p("reads it through the `/api` form: create a download session on the item, prepare the file, get\n")
	p("it until PREPARED, GET its `download_endpoint` URI (whose capability authorizes it). The anchor\n")
	p("is a plain Go file server, a process of its own: `http.ServeContent` of a file holding the same\n")
	p("bytes, written beside the operator's store on the same disk. Both are read once, unmeasured,\n")
	p("before the rounds, whole and in 16 ranged parts, and every answer's SHA-256 checked: so both\n")
	p("files are in the page cache (the machine has room for both many times over) and every round\n")
	p("measures the servers, not the disk. One reader GETs the whole file; %d readers each GET a\n", downloadReaders[len(downloadReaders)-1])
	p("disjoint part of it with a Range request (206), all at once, on connections of their own. The\n")
	p("client reads each body into a 1 MiB buffer and drops it. The operator and the anchor take turns\n")
	p("(operator, anchor, anchor, operator, ...), %d rounds each; a row is its best round.\n\n", downloadRounds)
	p("Then the same over TLS, as the chart serves by default: a manager with `--rest-cert-dir` on the\n")
	p("same store, and the anchor serving TLS (`http.ServeTLS`) with the same self-signed ECDSA P-256\n")
	p("certificate, which the client trusts. Over TLS neither can use sendfile: each copies the bytes\n")
	p("through its process to encrypt them.\n\n")
	p("| server | readers | MiB/s | rounds (s) |\n|---|---|---|---|\n")
	for _, r := range f.results {
		secs := make([]string, len(r.rounds))
		for i, d := range r.rounds {
			secs[i] = fmt.Sprintf("%.2f", d.Seconds())
		}
		p("| %s | %d | %.0f | %s |\n", r.mode, r.readers, r.mibps(), strings.Join(secs, ", "))
	}
	p("\nThe manager's resident memory was %.0f MiB before the first plain download (the warm-up's) and\n", f.rssBase)
	p("at most %.0f MiB over all of them, sampled every 50 ms.\n\n", f.rssPeak)
}
