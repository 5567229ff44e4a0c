package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// smallBufferClient is a client whose connections buffer little of what they receive, so that
// a server sends no more than the client reads, plus its own buffer.
var smallBufferClient = &http.Client{Transport: &http.Transport{
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(64 << 10)
		}
		return c, err
	},
	DisableKeepAlives: true,
}}

// downloadEnds reads how many downloads ended with each result, and how many download calls
// counted with each REST result, keyed "download:<result>" and "rest:<result>".
func downloadEnds() map[string]float64 {
	got := map[string]float64{}
	for _, r := range []string{metrics.DownloadComplete, metrics.DownloadCut, metrics.DownloadLost,
		metrics.DownloadStopped, metrics.DownloadStore} {
		got["download:"+r] = testutil.ToFloat64(metrics.Downloads.WithLabelValues(r))
	}
	for _, r := range []string{"ok", string(vapi.InvalidRequest), string(vapi.NotAllowedInCurrentState),
		string(vapi.ServiceUnavailable)} {
		got["rest:"+r] = testutil.ToFloat64(metrics.RESTRequests.WithLabelValues("download", r))
	}
	return got
}

// TestDownloadCountsHowItEnds: a download that sent every byte asked counts as complete, and
// its call as ok; one whose client went away mid-body counts as cut, one whose session ended
// mid-body as lost, and neither call as ok.
func TestDownloadCountsHowItEnds(t *testing.T) {
	ns := env.Namespace(t)
	s := startTransfers(t, ns, nil)
	// Far more than the sockets buffer, so that the server still sends when the client stops.
	data := pattern(32<<20, 5)
	ds, uri := oneFileDownload(t, s, ns, "item-ends", "disk.vmdk", data, 0)
	before := downloadEnds()
	want := func(counts ...any) map[string]float64 {
		m := map[string]float64{}
		for k, v := range before {
			m[k] = v
		}
		for i := 0; i < len(counts); i += 2 {
			m[counts[i].(string)] += float64(counts[i+1].(int))
		}
		return m
	}
	wantEventually := func(what string, want map[string]float64) {
		t.Helper()
		err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true,
			func(context.Context) (bool, error) { return cmp.Equal(downloadEnds(), want), nil })
		if err != nil {
			t.Fatalf("%s: the counts (-want +got):\n%s", what, cmp.Diff(want, downloadEnds()))
		}
	}

	if got := fetchURI(t, http.MethodGet, uri); got.status != http.StatusOK || len(got.body) != len(data) {
		t.Fatalf("GET: %d, %d bytes", got.status, len(got.body))
	}
	if got := fetchURI(t, http.MethodHead, uri); got.status != http.StatusOK {
		t.Fatalf("HEAD: %d", got.status)
	}
	wantEventually("a GET and a HEAD answered whole", want("download:complete", 2, "rest:ok", 2))

	// The client reads a MiB and hangs up.
	resp, err := smallBufferClient.Get(uri)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	wantEventually("a client that hung up after a MiB", want("download:complete", 2, "rest:ok", 2,
		"download:cut", 1, "rest:INVALID_REQUEST", 1))

	// The session is canceled while its client reads: once its first bytes arrived, not after
	// a pause, which on a busy machine may end before the request is let in (a session canceled
	// first refuses it at the door, and no download is lost).
	read, flowing := make(chan error, 1), make(chan struct{})
	go func() {
		resp, err := smallBufferClient.Get(uri)
		if err != nil {
			read <- err
			return
		}
		defer func() { _ = resp.Body.Close() }()
		first, err := io.CopyN(io.Discard, resp.Body, 64<<10)
		if err != nil {
			read <- fmt.Errorf("the download's first bytes (%d, status %d): %w", first, resp.StatusCode, err)
			return
		}
		close(flowing)
		n, err := io.Copy(io.Discard, &pacedReader{r: resp.Body, pause: 50 * time.Millisecond})
		if err == nil {
			err = fmt.Errorf("the download ran to its end (%d bytes)", first+n)
		}
		read <- err
	}()
	select {
	case <-flowing:
	case err := <-read:
		t.Fatal(err)
	}
	writeDownload(t, ds, func(ds *v1alpha1.DownloadSession) { ds.Status.State = v1alpha1.StateCanceled })
	wantEventually("a download whose session was canceled", want("download:complete", 2, "rest:ok", 2,
		"download:cut", 1, "rest:INVALID_REQUEST", 1, "download:lost", 1, "rest:NOT_ALLOWED_IN_CURRENT_STATE", 1))
	if err := <-read; err == nil {
		t.Fatal("the download of a canceled session was not cut")
	}
}

// pacedReader reads at most 64 KiB at a time from r, pausing before each read.
type pacedReader struct {
	r     io.Reader
	pause time.Duration
}

func (p *pacedReader) Read(b []byte) (int, error) {
	time.Sleep(p.pause)
	return p.r.Read(b[:min(len(b), 64<<10)])
}
