package content

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // a checksum clients promise
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
)

func TestDirStore(t *testing.T) { testStore(t, newDirBucket) }

// testStore is what the Store does over each Bucket implementation.
func testStore(t *testing.T, newBucket newBucketFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *Store)
	}{
		{"Put keeps bytes that match what was promised", testPutKept},
		{"Put keeps nothing that breaks a promise, and the old bytes stay", testPutRefused},
		{"a cut Put leaves the old bytes", testPutCut},
		{"a Put of many parts, sized or not, reads back whole and in ranges", testPutLarge},
		{"commits number versions and apply puts and removes", testCommitSequence},
		{"a retried Commit returns the record it wrote", testCommitRetried},
		{"concurrent Commits get versions 1..N and lose no change", testCommitRace},
		{"DiscardSession deletes what no record names", testDiscardSession},
		{"Collect deletes orphans and old records past grace, keeping what is named, pinned or live", testCollect},
		{"a Reader opens only the range read, from where it was sought", testReaderOpensLazily},
		{"a Reader serves http.ServeContent: whole, ranges, several ranges, HEAD", testReaderServesContent},
		{"a Reader of an object shorter than its record fails, not ends", testReaderShortObject},
		{"a Reader lends its file positioned (a directory's only), and Sync goes on past what left it", testReaderLendsItsFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBucket(t)
			t.Cleanup(func() { _ = b.Close() })
			tt.run(t, New(b, time.Now))
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func testPutKept(t *testing.T, s *Store) {
	sha1Sum := sha1.Sum([]byte("hello")) //nolint:gosec // a checksum clients promise
	tests := []struct {
		name string
		want Expect
		got  Checksum
	}{
		{"nothing promised: SHA256", Expect{}, Checksum{SHA256, sha256Hex("hello")}},
		{"size and SHA256 promised", Expect{Size: 5, SizeKnown: true, Checksum: Checksum{SHA256, sha256Hex("hello")}},
			Checksum{SHA256, sha256Hex("hello")}},
		{"SHA1 promised in upper case", Expect{Checksum: Checksum{"sha1", strings.ToUpper(hex.EncodeToString(sha1Sum[:]))}},
			Checksum{SHA1, hex.EncodeToString(sha1Sum[:])}},
		{"MD5 named without a value", Expect{Checksum: Checksum{Algorithm: MD5}}, Checksum{MD5, "5d41402abc4b2a76b9719d911017c592"}},
		{"exactly MaxBytes", Expect{MaxBytes: 5}, Checksum{SHA256, sha256Hex("hello")}},
	}
	for i, tt := range tests {
		key := fmt.Sprintf("files/ns/item/s/f%d", i)
		got, err := s.Put(context.Background(), key, strings.NewReader("hello"), tt.want)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(Received{Size: 5, Checksum: tt.got}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
		if info, err := s.Stat(context.Background(), key); err != nil || info.Size != 5 {
			t.Errorf("%s: Stat = %+v, %v", tt.name, info, err)
		}
	}
}

func testPutRefused(t *testing.T, s *Store) {
	tests := []struct {
		name     string
		want     Expect
		mismatch string // the MismatchError's What, or "" for the error below
		err      error
	}{
		{"fewer bytes than promised", Expect{Size: 6, SizeKnown: true}, "size", nil},
		{"more bytes than promised", Expect{Size: 4, SizeKnown: true}, "size", nil},
		{"a wrong checksum", Expect{Checksum: Checksum{SHA256, sha256Hex("other")}}, "checksum", nil},
		{"over MaxBytes", Expect{MaxBytes: 4}, "", ErrTooLarge},
		{"a promised size over MaxBytes", Expect{Size: 5, SizeKnown: true, MaxBytes: 4}, "", ErrTooLarge},
	}
	for _, tt := range tests {
		key := "files/ns/item/s/f"
		write(t, s.bucket, key, []byte("old"))
		_, err := s.Put(context.Background(), key, strings.NewReader("hello"), tt.want)
		var mismatch *MismatchError
		switch {
		case tt.mismatch != "" && (!errors.As(err, &mismatch) || mismatch.What != tt.mismatch):
			t.Errorf("%s: Put = %v, want a %s mismatch", tt.name, err, tt.mismatch)
		case tt.err != nil && !errors.Is(err, tt.err):
			t.Errorf("%s: Put = %v, want %v", tt.name, err, tt.err)
		}
		if got := read(t, s.bucket, key, 0, -1); string(got) != "old" {
			t.Errorf("%s: the key holds %q, want the old bytes", tt.name, got)
		}
	}
	if _, err := s.Put(context.Background(), "files/ns/item/s/g", strings.NewReader("x"),
		Expect{Checksum: Checksum{Algorithm: "CRC32"}}); err == nil {
		t.Error("Put with an unknown algorithm succeeded")
	}
}

// cutReader yields n bytes and then fails, as a body whose connection broke.
type cutReader struct{ n int }

func (r *cutReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

func testPutCut(t *testing.T, s *Store) {
	key := "files/ns/item/s/f"
	write(t, s.bucket, key, []byte("old"))
	got, err := s.Put(context.Background(), key, &cutReader{n: 3 << 20}, Expect{Size: 4 << 20, SizeKnown: true})
	if !errors.Is(err, io.ErrUnexpectedEOF) || got.Size != 3<<20 {
		t.Fatalf("Put = %+v, %v; want 3 MiB received and the read error", got, err)
	}
	if data := read(t, s.bucket, key, 0, -1); string(data) != "old" {
		t.Fatalf("the key holds %d bytes, want the old bytes", len(data))
	}
	assertKeys(t, s.bucket, "", key)
}

func file(name string, size int64) File {
	return File{Name: name, Size: size, Checksum: Checksum{SHA256, sha256Hex(name)}, Key: "files/ns/k/" + name}
}

func testCommitSequence(t *testing.T, s *Store) {
	ctx := context.Background()
	if cur, err := s.Current(ctx, "ns", "item"); err != nil || cur.Version != 0 || len(cur.Files) != 0 {
		t.Fatalf("Current of a new item = %+v, %v; want version 0 and no files", cur, err)
	}
	steps := []struct {
		session types.UID
		change  Change
		want    []string // name@version
	}{
		{"s1", Change{Put: []File{file("b.vmdk", 2), file("a.ovf", 1)}}, []string{"a.ovf@1", "b.vmdk@1"}},
		{"s2", Change{Put: []File{file("c.mf", 3)}}, []string{"a.ovf@1", "b.vmdk@1", "c.mf@2"}},
		{"s3", Change{Put: []File{file("a.ovf", 4)}, Remove: []string{"b.vmdk", "absent"}}, []string{"a.ovf@3", "c.mf@2"}},
	}
	for i, step := range steps {
		rec, err := s.Commit(ctx, "ns", "item", step.session, step.change)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := s.Current(ctx, "ns", "item")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rec, cur); diff != "" {
			t.Errorf("step %d: Current differs from what Commit returned (-commit +current):\n%s", i, diff)
		}
		got := make([]string, 0, len(cur.Files))
		for _, f := range cur.Files {
			got = append(got, fmt.Sprintf("%s@%d", f.Name, f.Version))
		}
		if cur.Version != int64(i+1) || cur.Session != step.session || !cmp.Equal(step.want, got) {
			t.Errorf("step %d: version %d by %s with %v, want version %d by %s with %v",
				i, cur.Version, cur.Session, got, i+1, step.session, step.want)
		}
	}
	if old, err := s.Version(ctx, "ns", "item", 1); err != nil || len(old.Files) != 2 {
		t.Errorf("Version 1 = %+v, %v; want its two files", old, err)
	}
	if _, err := s.Version(ctx, "ns", "item", 9); !errors.Is(err, ErrNotExist) {
		t.Errorf("Version 9 = %v, want ErrNotExist", err)
	}
	if _, err := s.Commit(ctx, "ns", "item", "s4", Change{Put: []File{file("../x", 1)}}); err == nil {
		t.Error("Commit of a file named ../x succeeded")
	}
}

func testCommitRetried(t *testing.T, s *Store) {
	ctx := context.Background()
	first, err := s.Commit(ctx, "ns", "item", "s1", Change{Put: []File{file("a", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Commit(ctx, "ns", "item", "s1", Change{Put: []File{file("a", 1)}})
	if err != nil || !cmp.Equal(first, again) {
		t.Fatalf("the retried Commit = %+v, %v; want the first record %+v", again, err, first)
	}
	if _, err := s.Commit(ctx, "ns", "item", "s2", Change{Remove: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	// s1 retries once more after s2 overtook it: its record is still kept, so nothing is reapplied.
	late, err := s.Commit(ctx, "ns", "item", "s1", Change{Put: []File{file("a", 1)}})
	if err != nil || late.Version != 1 {
		t.Fatalf("the late retry = %+v, %v; want s1's record of version 1", late, err)
	}
	if cur, _ := s.Current(ctx, "ns", "item"); cur.Version != 2 || len(cur.Files) != 0 {
		t.Fatalf("Current = %+v, want s2's version 2 without files", cur)
	}
}

func testCommitRace(t *testing.T, s *Store) {
	const sessions = 12
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			name := fmt.Sprintf("f%02d", i)
			if _, err := s.Commit(ctx, "ns", "item", types.UID(name), Change{Put: []File{file(name, int64(i))}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	cur, err := s.Current(ctx, "ns", "item")
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != sessions || len(cur.Files) != sessions {
		t.Fatalf("after %d racing commits: version %d with %d files, want %d and %d", sessions, cur.Version, len(cur.Files), sessions, sessions)
	}
	seen := map[types.UID]bool{}
	for v := int64(1); v <= sessions; v++ {
		rec, err := s.Version(ctx, "ns", "item", v)
		if err != nil || rec.Version != v || int64(len(rec.Files)) != v || seen[rec.Session] {
			t.Fatalf("version %d = %+v, %v; want %d files and a session of its own", v, rec, err, v)
		}
		seen[rec.Session] = true
	}
}

func stage(t *testing.T, s *Store, session types.UID, name string) string {
	t.Helper()
	key := FileKey("ns", "item", session, name)
	if _, err := s.Put(context.Background(), key, strings.NewReader(name), Expect{}); err != nil {
		t.Fatal(err)
	}
	return key
}

func testDiscardSession(t *testing.T, s *Store) {
	ctx := context.Background()
	kept := stage(t, s, "s1", "a")
	stage(t, s, "s1", "b") // staged and not committed
	other := stage(t, s, "s2", "a")
	if _, err := s.Commit(ctx, "ns", "item", "s1", Change{Put: []File{{Name: "a", Key: kept}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DiscardSession(ctx, "ns", "item", "s1"); err != nil {
		t.Fatal(err)
	}
	assertKeys(t, s.bucket, filesPrefix, sortedKeys(kept, other)...)
}

func sortedKeys(keys ...string) []string { return slices.Sorted(slices.Values(keys)) }

func testCollect(t *testing.T, s *Store) {
	ctx := context.Background()
	named := stage(t, s, "done", "a")       // named by the latest record
	replaced := stage(t, s, "old", "a")     // named only by an old record nothing pins
	pinnedKey := stage(t, s, "pinned", "a") // named only by an old record a reader pins
	live := stage(t, s, "live", "a")        // staged by a session that still exists
	stage(t, s, "gone", "a")                // staged by a session deleted without discarding
	for _, c := range []struct {
		session types.UID
		key     string
	}{{"pinned", pinnedKey}, {"old", replaced}, {"done", named}} {
		if _, err := s.Commit(ctx, "ns", "item", c.session, Change{Put: []File{{Name: "a", Key: c.key}}}); err != nil {
			t.Fatal(err)
		}
	}
	keep := Keep{
		LiveSession: func(ns string, session types.UID) bool { return ns == "ns" && session == "live" },
		Pinned:      func(ns, item string, version int64) bool { return ns == "ns" && item == "item" && version == 1 },
	}
	// Within grace nothing goes.
	stats, err := s.Collect(ctx, keep, time.Hour)
	if err != nil || stats.Deleted != 0 {
		t.Fatalf("Collect within grace = %+v, %v; want nothing deleted", stats, err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	stats, err = s.Collect(ctx, keep, time.Hour)
	if err != nil || stats.Deleted != 3 {
		t.Fatalf("Collect past grace = %+v, %v; want the old record, its file and the orphan deleted", stats, err)
	}
	assertKeys(t, s.bucket, filesPrefix, sortedKeys(named, pinnedKey, live)...)
	if _, err := s.Version(ctx, "ns", "item", 2); !errors.Is(err, ErrNotExist) {
		t.Errorf("Version 2 after Collect = %v, want ErrNotExist", err)
	}
	for _, v := range []int64{1, 3} {
		if _, err := s.Version(ctx, "ns", "item", v); err != nil {
			t.Errorf("Version %d after Collect = %v, want it kept", v, err)
		}
	}
}

// patterned is n bytes that differ from part to part, so that a part out of place shows.
func patterned(n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + i>>20)
	}
	return data
}

func testPutLarge(t *testing.T, s *Store) {
	data := patterned(3*minPartSize + 12345)
	sum := sha256.Sum256(data)
	for _, want := range []Expect{
		{Size: int64(len(data)), SizeKnown: true, Checksum: Checksum{SHA256, hex.EncodeToString(sum[:])}},
		{MaxBytes: 1 << 40},
		{},
	} {
		key := "files/ns/item/s/large"
		got, err := s.Put(context.Background(), key, bytes.NewReader(data), want)
		if err != nil || got.Size != int64(len(data)) || got.Checksum.Value != hex.EncodeToString(sum[:]) {
			t.Fatalf("Put(%+v) = %+v, %v", want, got, err)
		}
		if back := read(t, s.bucket, key, 0, -1); !bytes.Equal(back, data) {
			t.Fatalf("read back %d bytes that differ from the %d put", len(back), len(data))
		}
		off := int64(minPartSize - 10)
		if back := read(t, s.bucket, key, off, 20); !bytes.Equal(back, data[off:off+20]) {
			t.Fatalf("the range across a part boundary differs")
		}
	}
}

// TestCollectKeepsAVersionSupersededWithinGrace checks that a version is collected by how long
// ago the next one superseded it, not by its own age: a reader that pinned an old version just
// before an update committed (and that the collector's list of readers does not show yet)
// keeps it for the grace.
func TestCollectKeepsAVersionSupersededWithinGrace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := New(b, time.Now)
	for _, session := range []types.UID{"first", "second"} {
		key := stage(t, s, session, "a")
		if _, err := s.Commit(ctx, "ns", "item", session, Change{Put: []File{{Name: "a", Key: key}}}); err != nil {
			t.Fatal(err)
		}
	}
	age := func(version int64, ago time.Duration) {
		t.Helper()
		path, err := b.(*dirBucket).path(recordKey("ns", "item", version))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, time.Now().Add(-ago), time.Now().Add(-ago)); err != nil {
			t.Fatal(err)
		}
	}
	age(1, 3*time.Hour) // made long ago, superseded a moment ago
	if _, err := s.Collect(ctx, Keep{}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Version(ctx, "ns", "item", 1); err != nil {
		t.Fatalf("version 1, superseded within the grace, after Collect: %v; want it kept", err)
	}
	age(2, 2*time.Hour) // superseded longer ago than the grace
	if _, err := s.Collect(ctx, Keep{}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Version(ctx, "ns", "item", 1); !errors.Is(err, ErrNotExist) {
		t.Fatalf("version 1, superseded before the grace, after Collect: %v; want ErrNotExist", err)
	}
}
