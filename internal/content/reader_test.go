package content

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// openings is a Bucket that records the ranges opened on it.
type openings struct {
	Bucket
	mu     sync.Mutex
	ranges [][2]int64
}

func (o *openings) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	o.mu.Lock()
	o.ranges = append(o.ranges, [2]int64{offset, length})
	o.mu.Unlock()
	return o.Bucket.NewRangeReader(ctx, key, offset, length)
}

// pattern returns n bytes that differ at every offset within 251, so that a range read from
// the wrong offset shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// readerOf stores data under a key of s and returns a Reader of it whose openings are recorded.
func readerOf(t *testing.T, s *Store, data []byte) (*Reader, *openings) {
	t.Helper()
	key := "files/ns/item/s/served"
	write(t, s.bucket, key, data)
	o := &openings{Bucket: s.bucket}
	r := New(o, time.Now).NewReader(context.Background(), key, int64(len(data)))
	t.Cleanup(func() { _ = r.Close() })
	return r, o
}

func testReaderOpensLazily(t *testing.T, s *Store) {
	data := pattern(100_000)
	r, o := readerOf(t, s, data)
	if end, err := r.Seek(0, io.SeekEnd); err != nil || end != int64(len(data)) {
		t.Fatalf("Seek to the end = %d, %v", end, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if len(o.ranges) != 0 {
		t.Fatalf("seeking opened %v; want nothing opened before a read", o.ranges)
	}
	if _, err := r.Seek(60_000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1000)
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, data[60_000:61_000]) {
		t.Fatalf("1000 bytes at 60000: %v, equal %v", err, bytes.Equal(got, data[60_000:61_000]))
	}
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, data[61_000:62_000]) {
		t.Fatalf("the next 1000 bytes: %v", err)
	}
	if r.Offset() != 62_000 {
		t.Fatalf("Offset = %d, want 62000", r.Offset())
	}
	if _, err := r.Seek(-2000, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(rest, data[60_000:]) {
		t.Fatalf("reading on from 60000: %d bytes, %v", len(rest), err)
	}
	want := [][2]int64{{60_000, 40_000}, {60_000, 40_000}}
	if diff := cmp.Diff(want, o.ranges); diff != "" {
		t.Fatalf("ranges opened (-want +got):\n%s", diff)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("a seek to a negative offset succeeded")
	}
}

func testReaderServesContent(t *testing.T, s *Store) {
	data := pattern(50_000)
	serve := func(method, ranges string) *http.Response {
		r, _ := readerOf(t, s, data)
		req := httptest.NewRequest(method, "/f", nil)
		if ranges != "" {
			req.Header.Set("Range", ranges)
		}
		w := httptest.NewRecorder()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, req, "", time.Time{}, r)
		return w.Result()
	}
	body := func(resp *http.Response) []byte {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	whole := serve(http.MethodGet, "")
	if got := body(whole); whole.StatusCode != http.StatusOK || !bytes.Equal(got, data) ||
		whole.Header.Get("Content-Length") != strconv.Itoa(len(data)) || whole.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("GET: %d, %d bytes, headers %v", whole.StatusCode, len(got), whole.Header)
	}
	part := serve(http.MethodGet, "bytes=1000-1999")
	if got := body(part); part.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[1000:2000]) ||
		part.Header.Get("Content-Range") != "bytes 1000-1999/50000" {
		t.Fatalf("Range 1000-1999: %d, %d bytes, headers %v", part.StatusCode, len(got), part.Header)
	}
	tail := serve(http.MethodGet, "bytes=-100")
	if got := body(tail); tail.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[len(data)-100:]) {
		t.Fatalf("the last 100 bytes: %d, %d bytes", tail.StatusCode, len(got))
	}
	head := serve(http.MethodHead, "")
	if got := body(head); head.StatusCode != http.StatusOK || len(got) != 0 || head.Header.Get("Content-Length") != "50000" {
		t.Fatalf("HEAD: %d, %d bytes, headers %v", head.StatusCode, len(got), head.Header)
	}
	past := serve(http.MethodGet, "bytes=50000-")
	if past.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("a range past the end: %d, want 416", past.StatusCode)
	}

	multi := serve(http.MethodGet, "bytes=0-9,40000-40009")
	_, params, err := mime.ParseMediaType(multi.Header.Get("Content-Type"))
	if multi.StatusCode != http.StatusPartialContent || err != nil {
		t.Fatalf("two ranges: %d, %v", multi.StatusCode, err)
	}
	parts := multipart.NewReader(multi.Body, params["boundary"])
	for _, want := range [][]byte{data[0:10], data[40000:40010]} {
		p, err := parts.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(p); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("a part of two ranges: %v, %v; want %v", got, err, want)
		}
	}
}

func testReaderShortObject(t *testing.T, s *Store) {
	key := "files/ns/item/s/short"
	write(t, s.bucket, key, []byte("only this"))
	r := s.NewReader(context.Background(), key, 100)
	defer func() { _ = r.Close() }()
	got, err := io.ReadAll(r)
	if string(got) != "only this" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadAll = %q, %v; want the 9 bytes and io.ErrUnexpectedEOF", got, err)
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	stopped := errors.New("stopped")
	cancel(stopped)
	if _, err := s.NewReader(ctx, key, 9).Read(make([]byte, 4)); !errors.Is(err, stopped) {
		t.Fatalf("a read after its context ended: %v, want its cause", err)
	}
}

func testReaderLendsItsFile(t *testing.T, s *Store) {
	data := pattern(100_000)
	r, _ := readerOf(t, s, data)
	if _, err := r.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	f := r.File()
	if _, files := s.bucket.(*dirBucket); !files {
		if f != nil {
			t.Fatal("a Reader of a bucket that keeps no files lent a file")
		}
		return
	}
	if f == nil {
		t.Fatal("a Reader of a directory lent no file")
	}
	sent := make([]byte, 5000) // what sendfile takes: bytes from the file's position on
	if _, err := io.ReadFull(f, sent); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sent, data[1000:6000]) {
		t.Fatal("the file lent is not positioned at the Reader's offset")
	}
	if n := r.Sync(); n != 5000 || r.Offset() != 6000 {
		t.Fatalf("Sync = %d, offset %d; want 5000 sent, offset 6000", n, r.Offset())
	}
	if n := r.Sync(); n != 0 {
		t.Fatalf("a second Sync counted %d bytes again", n)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rest, data[6000:]) {
		t.Fatal("a Read after Sync does not go on where the file stopped")
	}
	if r.File() != nil {
		t.Fatal("a Reader at the end lent its file")
	}
}
