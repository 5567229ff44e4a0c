package content_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// newS3Bucket returns a bucket on an S3 server of its own, started for the test.
func newS3Bucket(t *testing.T) content.Bucket {
	srv := testenv.StartS3Server(t)
	srv.SetEnv(t)
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	b, err := content.OpenS3(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestS3Bucket(t *testing.T) { content.TestBucketConformance(t, newS3Bucket) }

func TestS3Store(t *testing.T) { content.TestStoreConformance(t, newS3Bucket) }

func TestOpenS3(t *testing.T) {
	srv := testenv.StartS3Server(t)
	srv.SetEnv(t)
	ctx := context.Background()
	s, err := content.Open(ctx, srv.URL())
	if err != nil {
		t.Fatalf("Open(%s): %v", srv.URL(), err)
	}
	defer func() { _ = s.Close() }()
	if _, err := s.Current(ctx, "ns", "item"); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"endpoint": {srv.Endpoint}, "use_path_style": {"true"}}
	for _, bad := range []string{"s3://absent?" + q.Encode(), "s3://?" + q.Encode()} {
		if _, err := content.Open(ctx, bad); err == nil {
			t.Errorf("Open(%s) succeeded, want an error", bad)
		}
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	if _, err := content.Open(ctx, srv.URL()); err == nil {
		t.Error("Open with a wrong secret succeeded, want an error")
	}
}

// A write canceled mid multipart upload leaves no object, and no upload that takes space
// once Collect has run past its grace.
func TestS3AbortedMultipartUpload(t *testing.T) {
	srv := testenv.StartS3Server(t)
	srv.SetEnv(t)
	ctx := context.Background()
	s, err := content.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := s.Bucket().NewWriter(wctx, "files/ns/item/s/big")
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for range 80 { // over two parts of an upload of unknown size
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := w.Close(); err == nil {
		t.Fatal("Close after cancel succeeded")
	}
	if _, err := s.Stat(ctx, "files/ns/item/s/big"); !errors.Is(err, content.ErrNotExist) {
		t.Fatalf("Stat = %v, want ErrNotExist", err)
	}
	if _, err := s.Collect(ctx, content.Keep{}, -1); err != nil {
		t.Fatal(err)
	}
	uploads, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(srv.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(uploads.Uploads); n != 0 {
		t.Fatalf("%d multipart uploads left after Collect, want none: %v", n, fmt.Sprint(uploads.Uploads))
	}
}

// A long write of a live session is no crash's leftover: Collect past its grace leaves its
// multipart upload alone, and the write completes.
func TestS3CollectSparesLiveUploads(t *testing.T) {
	srv := testenv.StartS3Server(t)
	srv.SetEnv(t)
	ctx := context.Background()
	s, err := content.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	key := content.FileKey("ns", "item", "live", "big")
	w, err := s.Bucket().NewWriter(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	write := func(mib int) {
		for range mib {
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(40) // past the first parts: the multipart upload has begun
	live := content.Keep{LiveSession: func(ns string, session types.UID) bool { return ns == "ns" && session == "live" }}
	if _, err := s.Collect(ctx, live, -1); err != nil {
		t.Fatal(err)
	}
	write(10)
	if err := w.Close(); err != nil {
		t.Fatalf("the write Collect ran beside: %v", err)
	}
	if info, err := s.Stat(ctx, key); err != nil || info.Size != 50<<20 {
		t.Fatalf("Stat = %+v, %v; want 50 MiB", info, err)
	}
}

// BenchmarkS3Put is a Put into a real S3 server, reporting how far this process's resident
// memory grew above where it began: the parts of a multipart upload are all a Put holds.
func BenchmarkS3Put(b *testing.B) {
	size := int64(1 << 30)
	if v := os.Getenv("BENCH_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	srv := testenv.StartS3Server(b)
	srv.SetEnv(b)
	s, err := content.Open(context.Background(), srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want content.Expect
	}{
		{"size=known", content.Expect{Size: size, SizeKnown: true}},
		{"size=unknown", content.Expect{MaxBytes: 1 << 40}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				runtime.GC()
				debug.FreeOSMemory()
				base := rss(b)
				peak := base
				stop := make(chan struct{})
				sampled := make(chan struct{})
				go func() {
					defer close(sampled)
					for {
						select {
						case <-stop:
							return
						case <-time.After(5 * time.Millisecond):
							peak = max(peak, rss(b))
						}
					}
				}()
				_, err := s.Put(context.Background(), "files/ns/i/s/big", &zeros{n: size}, tt.want)
				close(stop)
				<-sampled
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(peak-base)/(1<<20), "peak-RSS-growth-MiB")
			}
		})
	}
}

// rss is this process's resident memory in bytes.
func rss(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status here")
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// zeros yields n bytes of a repeating pattern, without holding them.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.n))
	for i := range p[:n] {
		p[i] = byte(i)
	}
	z.n -= int64(n)
	return n, nil
}

// TestS3ReaderReadsARangeInOneRequest checks, through a proxy that counts what the S3 server
// is asked, that a Reader reads a range of an object with one GET: the size is the record's, so
// no HEAD is needed to learn it; and that a range past an object's end still reads empty.
func TestS3ReaderReadsARangeInOneRequest(t *testing.T) {
	srv := testenv.StartS3Server(t)
	srv.SetEnv(t)
	upstream, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	asked := map[string]int{}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked[r.Method]++
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)
	q := url.Values{"endpoint": {counting.URL}, "region": {srv.Region}, "use_path_style": {"true"}}
	st, err := content.Open(context.Background(), "s3://"+srv.Bucket+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	data := []byte(strings.Repeat("0123456789", 1000))
	if _, err := st.Put(context.Background(), "files/a", strings.NewReader(string(data)), content.Expect{}); err != nil {
		t.Fatal(err)
	}
	count := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		got := maps.Clone(asked)
		clear(asked)
		return got
	}
	count()

	for _, tc := range []struct {
		name         string
		offset, size int64 // size: what the record says
		want         []byte
		wantErr      error
	}{
		{"from its start", 0, int64(len(data)), data, nil},
		{"from within", 4321, int64(len(data)), data[4321:], nil},
		{"from within, of an object shorter than its record", 9995, 20000, data[9995:], io.ErrUnexpectedEOF},
		{"from past the end of an object shorter than its record", 15000, 20000, nil, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := st.NewReader(context.Background(), "files/a", tc.size)
			defer func() { _ = r.Close() }()
			if _, err := r.Seek(tc.offset, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if !errors.Is(err, tc.wantErr) || string(got) != string(tc.want) {
				t.Fatalf("read %d bytes from %d, %v; want %d, %v", len(got), tc.offset, err, len(tc.want), tc.wantErr)
			}
			if diff := cmp.Diff(map[string]int{http.MethodGet: 1}, count()); diff != "" {
				t.Errorf("requests to the S3 server (-want +got):\n%s", diff)
			}
		})
	}
}
