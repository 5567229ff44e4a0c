package content

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// benchBytes is the size of one benchmark upload; BENCH_BYTES changes it.
func benchBytes(b *testing.B) int64 {
	if v := os.Getenv("BENCH_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 256 << 20
}

// source yields n bytes without reading anything, as fast as a client could send them.
type source struct {
	n   int64
	buf []byte
}

func newSource(n int64) *source { return &source{n: n, buf: patterned(1 << 20)} }

func (s *source) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), s.n)], s.buf)
	s.n -= int64(n)
	return n, nil
}

// BenchmarkPut is a Put with SHA256 into a dir store, beside the anchor the issue measures it
// against: a plain os.File write and SHA256 of the same bytes, with and without the fsync the
// store does before it says the bytes are kept.
func BenchmarkPut(b *testing.B) {
	size := benchBytes(b)
	b.Run("store=dir", func(b *testing.B) {
		bucket, err := OpenDir(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		s := New(bucket, time.Now)
		b.SetBytes(size)
		for b.Loop() {
			if _, err := s.Put(context.Background(), "files/ns/i/s/f", newSource(size), Expect{Size: size, SizeKnown: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, sync := range []bool{false, true} {
		b.Run("plain/fsync="+strconv.FormatBool(sync), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "f")
			b.SetBytes(size)
			for b.Loop() {
				plainWrite(b, path, newSource(size), sync)
			}
		})
	}
}

// plainWrite is what a plain Go server does with an upload: io.Copy into a file and a hash.
func plainWrite(b *testing.B, path string, r io.Reader, sync bool) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
		b.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	_ = h.Sum(nil)
}
