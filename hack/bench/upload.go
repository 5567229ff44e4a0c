package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/vmware/govmomi/vapi/library"
	vapirest "github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"
)

// The upload modes: the operator, the anchor (a plain Go HTTP server that writes and hashes a
// PUT body, as little as an upload server can do) and govmomi's simulator.
const (
	modeUploadOperator  = "operator"
	modeUploadAnchor    = "plain Go server"
	modeUploadPageCache = "plain Go server, no fsync"
	modeUploadVcsim     = "vcsim"
)

// The upload loads: one large file, and many files at once.
var uploadLoads = []struct {
	size        int64
	concurrency int
}{
	{1 << 30, 1},
	{256 << 20, 16},
}

// rssUploadSize is the size of the upload during which the manager's memory is watched.
const rssUploadSize = 4 << 30

// Targets of the uploads (issue 33).
const (
	minUploadRatio  = 0.8
	maxUploadRSSMiB = 64
)

// uploadRounds is how many times the operator and the anchor take turns at each load; the
// report keeps each one's best round, the one least disturbed by the rest of the machine.
const uploadRounds = 3

// uploadResult is one upload load on one server: concurrency files of size bytes at once.
type uploadResult struct {
	mode        string
	size        int64
	concurrency int
	// took is the best round's time from the first byte sent to the last answer.
	took   time.Duration
	rounds []time.Duration
}

// mibps is the load's throughput in MiB/s.
func (u uploadResult) mibps() float64 {
	return float64(u.size) * float64(u.concurrency) / (1 << 20) / u.took.Seconds()
}

// uploadFigures are the upload phase's results.
type uploadFigures struct {
	results []uploadResult
	// rssBase and rssPeak are the manager's resident memory before and at most during an upload
	// of rssUploadSize, in MiB.
	rssBase, rssPeak float64
}

// uploadTarget is a server the bench uploads to: prepare readies n files of size bytes, whose
// SHA-256 is sum, and returns where to PUT them.
type uploadTarget interface {
	prepare(ctx context.Context, n int, size int64, sum string) ([]upload, error)
}

// upload is where to PUT one file: its URI, and the session header to send, if any (vcsim's
// upload endpoint wants its login's; the operator's URI carries its own capability).
type upload struct {
	uri, sessionID string
}

// measureUploads runs the upload loads on the operator (its local-directory store), the anchor
// and vcsim, all writing to the same disk, then watches the manager's memory during a larger
// upload.
func (b *bench) measureUploads(ctx context.Context) (*uploadFigures, error) {
	ns, err := b.namespace(ctx, "upload")
	if err != nil {
		return nil, err
	}
	token, err := b.uploader(ctx, ns)
	if err != nil {
		return nil, err
	}
	store := filepath.Join(b.work, "content")
	m, err := b.startManager("--content-store=file://" + store)
	if err != nil {
		return nil, err
	}
	defer m.stop()
	op, err := newVSphereTarget(ctx, m.restURL, func(rc *vapirest.Client) (string, error) { rc.SessionID(token); return "", nil })
	if err != nil {
		return nil, err
	}
	anchor, err := startAnchor(filepath.Join(b.work, "anchor"), true)
	if err != nil {
		return nil, err
	}
	defer anchor.stop()
	// The same server answering before its bytes are on the disk, as vcsim does: what the
	// operator's fsync costs.
	cached, err := startAnchor(filepath.Join(b.work, "anchor-nosync"), false)
	if err != nil {
		return nil, err
	}
	defer cached.stop()
	step("uploads: govmomi's simulator (vcsim) starts")
	sim, err := startVcsim(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	simTarget, err := newVSphereTarget(ctx, sim.base(), func(rc *vapirest.Client) (string, error) {
		err := rc.Login(ctx, sim.sdk.User)
		return rc.SessionID(), err
	})
	if err != nil {
		return nil, err
	}
	f := &uploadFigures{}
	for _, load := range uploadLoads {
		sum := payloadSum(load.size)
		step(fmt.Sprintf("uploads: %d x %d MiB, the operator and the anchor taking turns", load.concurrency, load.size>>20))
		opRes := uploadResult{mode: modeUploadOperator, size: load.size, concurrency: load.concurrency}
		anchorRes := uploadResult{mode: modeUploadAnchor, size: load.size, concurrency: load.concurrency}
		cachedRes := uploadResult{mode: modeUploadPageCache, size: load.size, concurrency: load.concurrency}
		for range uploadRounds {
			for _, side := range []struct {
				res    *uploadResult
				target uploadTarget
			}{{&opRes, op}, {&anchorRes, anchor}, {&cachedRes, cached}} {
				took, err := b.uploadOnce(ctx, side.target, load.concurrency, load.size, sum)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", side.res.mode, err)
				}
				side.res.rounds = append(side.res.rounds, took)
				_ = os.RemoveAll(anchor.dir) // the anchors keep nothing; the operator's cancel discards
				_ = os.RemoveAll(cached.dir)
			}
		}
		step("uploads: the same on vcsim")
		simRes := uploadResult{mode: modeUploadVcsim, size: load.size, concurrency: load.concurrency}
		took, err := b.uploadOnce(ctx, simTarget, load.concurrency, load.size, sum)
		if err != nil {
			return nil, fmt.Errorf("vcsim: %w", err)
		}
		simRes.rounds = []time.Duration{took}
		for _, r := range []*uploadResult{&opRes, &anchorRes, &cachedRes, &simRes} {
			r.took = slices.Min(r.rounds)
			printUpload(*r)
			f.results = append(f.results, *r)
		}
	}
	step(fmt.Sprintf("uploads: the manager's memory during a %d GiB upload", rssUploadSize>>30))
	f.rssBase, f.rssPeak, err = b.watchRSS(ctx, m, op)
	fmt.Fprintf(os.Stderr, "    manager RSS %.0f MiB before, at most %.0f MiB during: %.0f MiB more\n",
		f.rssBase, f.rssPeak, f.rssPeak-f.rssBase)
	return f, err
}

// uploadOnce uploads n files of size bytes at once to t and returns the time from the first
// byte to the last answer.
func (b *bench) uploadOnce(ctx context.Context, t uploadTarget, n int, size int64, sum string) (time.Duration, error) {
	uris, err := t.prepare(ctx, n, size, sum)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for _, u := range uris {
		wg.Go(func() { errs <- put(ctx, b.http, u, size) })
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

// watchRSS uploads rssUploadSize bytes to the operator and samples the manager's resident memory
// meanwhile.
func (b *bench) watchRSS(ctx context.Context, m *managerProcess, op uploadTarget) (base, peak float64, err error) {
	uris, err := op.prepare(ctx, 1, rssUploadSize, payloadSum(rssUploadSize))
	if err != nil {
		return 0, 0, err
	}
	base, _ = m.rss()
	peak = base
	done := make(chan error, 1)
	go func() { done <- put(ctx, b.http, uris[0], rssUploadSize) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return base, peak, err
		case <-tick.C:
			if cur, _ := m.rss(); cur > peak {
				peak = cur
			}
		}
	}
}

// put sends size bytes of the payload to uri as govmomi's Upload does: a PUT with
// Content-Length, answered 200 or 201.
func put(ctx context.Context, c *http.Client, u upload, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.uri, newPayload(size))
	if err != nil {
		return err
	}
	if u.sessionID != "" {
		req.Header.Set("vmware-api-session-id", u.sessionID)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT answered %d: %s", resp.StatusCode, body)
	}
	return nil
}

// block is the payload's repeating content: random, so that no layer compresses it.
var block = func() []byte {
	b := make([]byte, 4<<20)
	_, _ = rand.Read(b)
	return b
}()

// payload is an endless reader of block, over and over.
type payload struct{ off int }

func (p *payload) Read(b []byte) (int, error) {
	n := copy(b, block[p.off:])
	p.off = (p.off + n) % len(block)
	return n, nil
}

// newPayload returns a reader of the first size bytes of the payload.
func newPayload(size int64) io.Reader { return newPayloadAt(0, size) }

// newPayloadAt returns a reader of length bytes of the payload from offset.
func newPayloadAt(offset, length int64) io.Reader {
	return io.LimitReader(&payload{off: int(offset % int64(len(block)))}, length)
}

// payloadSum is the SHA-256 of the first size bytes of the payload.
func payloadSum(size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, newPayload(size))
	return hex.EncodeToString(h.Sum(nil))
}

func printUpload(r uploadResult) {
	fmt.Fprintf(os.Stderr, "    %-16s %2d x %4d MiB: %6.0f MiB/s (best of %v)\n", r.mode, r.concurrency, r.size>>20,
		r.mibps(), r.rounds)
}

// vSphereTarget uploads through a vSphere-style content library API, the operator's or vcsim's,
// as govc library.import does: a session per file, add the file (PUSH, with its SHA-256), PUT to
// the upload endpoint the add answers.
type vSphereTarget struct {
	m *library.Manager
	// sessionID is the login's session id, which vcsim's upload endpoint wants; empty for the
	// operator, whose upload URIs carry their own capability.
	sessionID string
	// item is the library item the sessions upload to; with several files at once, file i goes
	// to item-i. library is vcsim's library, where items must be made first; the operator has
	// no library objects yet, so any item id will do.
	item, library string
	made          map[string]string
	// open are the sessions of the last prepare, canceled by the next one.
	open []string
}

func newVSphereTarget(ctx context.Context, base string, login func(*vapirest.Client) (string, error)) (*vSphereTarget, error) {
	u, err := url.Parse(base + "/sdk")
	if err != nil {
		return nil, err
	}
	rc := vapirest.NewClient(&vim25.Client{Client: soap.NewClient(u, true)})
	sessionID, err := login(rc)
	if err != nil {
		return nil, err
	}
	t := &vSphereTarget{m: library.NewManager(rc), sessionID: sessionID, item: "bench-upload"}
	if libs, err := t.m.GetLibraries(ctx); err == nil && len(libs) > 0 {
		t.library, t.made = libs[0].ID, map[string]string{}
	}
	return t, nil
}

// itemFor returns the id of the library item named name, making it on vcsim.
func (t *vSphereTarget) itemFor(ctx context.Context, name string) (string, error) {
	if t.library == "" {
		return name, nil
	}
	if id, ok := t.made[name]; ok {
		return id, nil
	}
	id, err := t.m.CreateLibraryItem(ctx, library.Item{Name: name, Type: "iso", LibraryID: t.library})
	t.made[name] = id
	return id, err
}

func (t *vSphereTarget) prepare(ctx context.Context, n int, size int64, sum string) ([]upload, error) {
	for _, id := range t.open {
		_ = t.m.CancelLibraryItemUpdateSession(ctx, id) // discards what the last round staged
	}
	t.open = t.open[:0]
	uris := make([]upload, 0, n)
	for i := range n {
		name := t.item
		if n > 1 {
			name = fmt.Sprintf("%s-%d", t.item, i) // one session per item, as the API allows
		}
		item, err := t.itemFor(ctx, name)
		if err != nil {
			return nil, err
		}
		id, err := t.m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: item})
		if err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
		t.open = append(t.open, id)
		f, err := t.m.AddLibraryItemFile(ctx, id, library.UpdateFile{Name: fmt.Sprintf("disk-%d.iso", i),
			SourceType: "PUSH", Size: size, Checksum: &library.Checksum{Algorithm: "SHA256", Checksum: sum}})
		if err != nil {
			return nil, fmt.Errorf("add: %w", err)
		}
		uris = append(uris, upload{uri: f.UploadEndpoint.URI, sessionID: t.sessionID})
	}
	return uris, nil
}

// anchorProcess is the plain Go upload server, a process of its own as the manager is.
type anchorProcess struct {
	*child
	dir string
}

// startAnchor runs bench -serve-anchor dir; durable: the anchor fsyncs each file before it
// answers, as the operator does.
func startAnchor(dir string, durable bool) (*anchorProcess, error) {
	c, err := startChild("-serve-anchor="+dir, fmt.Sprintf("-anchor-fsync=%t", durable))
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	return &anchorProcess{child: c, dir: dir}, nil
}

func (a *anchorProcess) prepare(_ context.Context, n int, _ int64, _ string) ([]upload, error) {
	uris := make([]upload, n)
	for i := range uris {
		uris[i] = upload{uri: fmt.Sprintf("%s/upload/file-%d", a.url, i)}
	}
	return uris, nil
}

// serveAnchor is the anchor: it writes each PUT body into a file in dir while hashing it with
// SHA-256, fsyncs (if durable), renames it into place, answers 200, and does nothing else.
func serveAnchor(dir string, durable bool) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("http://" + ln.Addr().String())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := writeHashed(dir, filepath.Base(r.URL.Path), r.Body, durable); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
}

// writeHashed writes body into dir/name through a temporary file, hashing it as it goes.
func writeHashed(dir, name string, body io.Reader, durable bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".upload-")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), body); err != nil {
		_ = f.Close()
		return err
	}
	_ = h.Sum(nil)
	if durable {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dir, name))
}

// find returns the result of mode at size and concurrency.
func (f *uploadFigures) find(mode string, size int64, concurrency int) uploadResult {
	for _, r := range f.results {
		if r.mode == mode && r.size == size && r.concurrency == concurrency {
			return r
		}
	}
	return uploadResult{}
}

// targets are the rows of the upload targets: each load's throughput against the anchor's,
// and the manager's memory during the large upload.
func (f *uploadFigures) targets() []target {
	if f == nil {
		return nil
	}
	rows := make([]target, 0, 2*len(uploadLoads)+1)
	for _, load := range uploadLoads {
		op := f.find(modeUploadOperator, load.size, load.concurrency)
		anchor := f.find(modeUploadAnchor, load.size, load.concurrency)
		ratio := op.mibps() / anchor.mibps()
		cached := f.find(modeUploadPageCache, load.size, load.concurrency)
		rows = append(rows, target{
			name: fmt.Sprintf("upload %d x %d MiB with SHA-256 >= %.1fx a plain Go server (fsync, as the operator)",
				load.concurrency, load.size>>20, minUploadRatio),
			measured: fmt.Sprintf("%.0f MiB/s", op.mibps()), anchor: fmt.Sprintf("%.0f MiB/s", anchor.mibps()),
			ratio: fmt.Sprintf("%.2fx", ratio), met: ratio >= minUploadRatio,
		}, target{
			name: fmt.Sprintf("the same >= %.1fx the plain Go server without fsync (not durable when it answers)",
				minUploadRatio),
			measured: fmt.Sprintf("%.0f MiB/s", op.mibps()), anchor: fmt.Sprintf("%.0f MiB/s", cached.mibps()),
			ratio: fmt.Sprintf("%.2fx", op.mibps()/cached.mibps()), met: op.mibps()/cached.mibps() >= minUploadRatio,
		})
	}
	growth := f.rssPeak - f.rssBase
	rows = append(rows, target{name: fmt.Sprintf("manager RSS growth during a %d GiB upload", rssUploadSize>>30),
		measured: fmt.Sprintf("%.0f MiB (%.0f to %.0f)", growth, f.rssBase, f.rssPeak),
		anchor:   fmt.Sprintf("<= %d MiB", maxUploadRSSMiB), ratio: "-", met: growth <= maxUploadRSSMiB})
	return rows
}

// section describes the upload loads and tables them.
func (f *uploadFigures) section(p func(string, ...any)) {
	if f == nil {
		return
	}
	p("## Uploads\n\n")
	p("Each load PUTs its files at once, each with Content-Length, through a session per file as govc\n")
	p("library.import does (create, add with the file's SHA-256, PUT to the upload endpoint): to the\n")
	p("operator (its local-directory store), to the anchor, a plain Go HTTP server that writes each body\n")
	p("to a file while hashing it with SHA-256, fsyncs and renames it, and to vcsim. All three write to\n")
	p("the same disk. The operator fsyncs a file before it calls it READY; the anchor runs twice, with\n")
	p("fsync (the like-for-like anchor) and without (what the disk's durability costs). The operator and\n")
	p("the anchors take turns, %d rounds each; a row is its best round.\n\n", uploadRounds)
	p("| server | files x size | MiB/s | rounds (s) |\n|---|---|---|---|\n")
	for _, r := range f.results {
		secs := make([]string, len(r.rounds))
		for i, d := range r.rounds {
			secs[i] = fmt.Sprintf("%.2f", d.Seconds())
		}
		p("| %s | %d x %d MiB | %.0f | %s |\n", r.mode, r.concurrency, r.size>>20, r.mibps(), strings.Join(secs, ", "))
	}
	p("\nThe manager's resident memory was %.0f MiB before a %d GiB upload and at most %.0f MiB during it.\n\n",
		f.rssBase, rssUploadSize>>30, f.rssPeak)
}
