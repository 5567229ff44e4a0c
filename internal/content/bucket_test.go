package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// newBucketFunc returns an empty bucket for one test.
type newBucketFunc func(t *testing.T) Bucket

func newDirBucket(t *testing.T) Bucket {
	b, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDirBucket(t *testing.T) { testBucket(t, newDirBucket) }

// testBucket is what every Bucket must do, run against each implementation.
func testBucket(t *testing.T, newBucket newBucketFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, b Bucket)
	}{
		{"a closed write is read back whole and in ranges", testReadBack},
		{"a write is invisible until Close and replaces the old bytes at once", testReplace},
		{"an aborted write leaves the old bytes", testAbort},
		{"a write closed after its context is done leaves the old bytes", testCanceledClose},
		{"WriteIfAbsent writes once and then fails with ErrExists", testWriteIfAbsent},
		{"of many concurrent WriteIfAbsent of one key exactly one wins", testWriteIfAbsentRace},
		{"a missing key is ErrNotExist and its Delete no error", testMissing},
		{"List yields the keys under a prefix in lexical order", testList},
		{"Delete removes a key and leaves its neighbours", testDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBucket(t)
			t.Cleanup(func() { _ = b.Close() })
			tt.run(t, b)
		})
	}
}

func write(t *testing.T, b Bucket, key string, data []byte) {
	t.Helper()
	w, err := b.NewWriter(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("closing the writer of %s: %v", key, err)
	}
}

func read(t *testing.T, b Bucket, key string, offset, length int64) []byte {
	t.Helper()
	r, err := b.NewRangeReader(context.Background(), key, offset, length)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	defer func() { _ = r.Close() }()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func testReadBack(t *testing.T, b Bucket) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	write(t, b, "a/b/c", data)
	if got := read(t, b, "a/b/c", 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes back, want the %d written", len(got), len(data))
	}
	for _, r := range []struct{ offset, length int64 }{{0, 10}, {5, 3}, {9990, -1}, {9995, 100}, {10000, -1},
		{10000, 10}, {20000, -1}, {20000, 10}, {3, 0}} {
		start, end := min(len(data), int(r.offset)), min(len(data), int(r.offset+r.length))
		if r.length < 0 {
			end = len(data)
		}
		if got, want := read(t, b, "a/b/c", r.offset, r.length), data[start:end]; !bytes.Equal(got, want) {
			t.Errorf("range %d+%d: read %q, want %q", r.offset, r.length, got, want)
		}
	}
	info, err := b.Stat(context.Background(), "a/b/c")
	if err != nil || info.Key != "a/b/c" || info.Size != int64(len(data)) || info.ModTime.IsZero() {
		t.Fatalf("Stat = %+v, %v; want key a/b/c of %d bytes with a time", info, err, len(data))
	}
}

func testReplace(t *testing.T, b Bucket) {
	write(t, b, "k", []byte("old"))
	w, err := b.NewWriter(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("new bytes")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, b, "k", 0, -1); string(got) != "old" {
		t.Fatalf("before Close the key holds %q, want the old bytes", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, b, "k", 0, -1); string(got) != "new bytes" {
		t.Fatalf("after Close the key holds %q, want the new bytes", got)
	}
}

func testAbort(t *testing.T, b Bucket) {
	write(t, b, "k", []byte("old"))
	w, err := b.NewWriter(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("half of the new")); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, b, "k", 0, -1); string(got) != "old" {
		t.Fatalf("after Abort the key holds %q, want the old bytes", got)
	}
	assertKeys(t, b, "", "k")
}

func testCanceledClose(t *testing.T, b Bucket) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := b.NewWriter(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("bytes")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := w.Close(); err == nil {
		t.Fatal("Close after the context was done succeeded")
	}
	if _, err := b.Stat(context.Background(), "k"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Stat after a canceled write = %v, want ErrNotExist", err)
	}
}

func testWriteIfAbsent(t *testing.T, b Bucket) {
	ctx := context.Background()
	if err := b.WriteIfAbsent(ctx, "r/1", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteIfAbsent(ctx, "r/1", []byte("second")); !errors.Is(err, ErrExists) {
		t.Fatalf("the second WriteIfAbsent = %v, want ErrExists", err)
	}
	if got := read(t, b, "r/1", 0, -1); string(got) != "first" {
		t.Fatalf("the key holds %q, want the first write", got)
	}
}

func testWriteIfAbsentRace(t *testing.T, b Bucket) {
	const writers = 16
	var wins, exists atomic.Int32
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			err := b.WriteIfAbsent(context.Background(), "race", fmt.Appendf(nil, "writer %d", i))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrExists):
				exists.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || exists.Load() != writers-1 {
		t.Fatalf("%d writers won and %d found the key taken, want 1 and %d", wins.Load(), exists.Load(), writers-1)
	}
}

func testMissing(t *testing.T, b Bucket) {
	ctx := context.Background()
	if _, err := b.Stat(ctx, "no/such"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Stat = %v, want ErrNotExist", err)
	}
	for _, r := range []struct{ offset, length int64 }{{0, -1}, {5, -1}, {5, 10}, {0, 0}} {
		if _, err := b.NewRangeReader(ctx, "no/such", r.offset, r.length); !errors.Is(err, ErrNotExist) {
			t.Errorf("NewRangeReader from %d for %d = %v, want ErrNotExist", r.offset, r.length, err)
		}
	}
	if err := b.Delete(ctx, "no/such"); err != nil {
		t.Errorf("Delete = %v, want no error", err)
	}
}

func assertKeys(t *testing.T, b Bucket, prefix string, want ...string) {
	t.Helper()
	got := []string{}
	for info, err := range b.List(context.Background(), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, info.Key)
	}
	if want == nil {
		want = []string{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List(%q) (-want +got):\n%s", prefix, diff)
	}
}

func testList(t *testing.T, b Bucket) {
	// No key is also a directory of another: a dir bucket cannot hold both.
	keys := []string{"a/b", "a.c", "a/b.d", "ab/c", "b", "a/bc/d", "a/bc.x", "a/b0"}
	for _, k := range keys {
		write(t, b, k, []byte(k))
	}
	all := slices.Clone(keys)
	slices.Sort(all)
	assertKeys(t, b, "", all...)
	assertKeys(t, b, "a/", "a/b", "a/b.d", "a/b0", "a/bc.x", "a/bc/d")
	assertKeys(t, b, "a/b", "a/b", "a/b.d", "a/b0", "a/bc.x", "a/bc/d")
	assertKeys(t, b, "a/bc/", "a/bc/d")
	assertKeys(t, b, "a", "a.c", "a/b", "a/b.d", "a/b0", "a/bc.x", "a/bc/d", "ab/c")
	assertKeys(t, b, "c")
	assertKeys(t, b, "c/d/")
}

func testDelete(t *testing.T, b Bucket) {
	ctx := context.Background()
	write(t, b, "x/y/z", []byte("1"))
	write(t, b, "x/w", []byte("2"))
	if err := b.Delete(ctx, "x/y/z"); err != nil {
		t.Fatal(err)
	}
	assertKeys(t, b, "", "x/w")
	write(t, b, "x/y/z", []byte("3")) // the emptied directory can be written again
	assertKeys(t, b, "", "x/w", "x/y/z")
}

func TestDirBucketRefusesKeysOutsideItsRoot(t *testing.T) {
	b := newDirBucket(t)
	for _, key := range []string{"", "/a", "a/", "a//b", ".", "..", "../a", "a/../../b", "a/./b", `a\b`, "a/\x00", "a\nb"} {
		if _, err := b.NewWriter(context.Background(), key); err == nil {
			t.Errorf("NewWriter(%q) succeeded, want it refused", key)
		}
		if err := b.WriteIfAbsent(context.Background(), key, nil); err == nil || errors.Is(err, ErrExists) {
			t.Errorf("WriteIfAbsent(%q) = %v, want it refused", key, err)
		}
		if _, err := b.Stat(context.Background(), key); err == nil {
			t.Errorf("Stat(%q) succeeded, want it refused", key)
		}
	}
}
