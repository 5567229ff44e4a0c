package content

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"disk.vmdk", true},
		{"photon.ovf", true},
		{".hidden", true},
		{"..a", true},
		{"naïve ☃.iso", true},
		{strings.Repeat("a", 255), true},
		{"", false},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("é", 128), false}, // 256 bytes
		{".", false},
		{"..", false},
		{"a/b", false},
		{"../etc/passwd", false},
		{`a\b`, false},
		{`..\x`, false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\tb", false},
		{"a\x7fb", false},
		{"a\u0085b", false}, // a C1 control character
		{"\xff", false},     // not UTF-8
	}
	for _, tt := range tests {
		err := CheckName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestFileKey(t *testing.T) {
	a := FileKey("ns", "item/../1", "uid-1", "disk.vmdk")
	if !strings.HasPrefix(a, "files/ns/") || !strings.HasSuffix(a, "/uid-1/disk.vmdk") || checkKey(a) != nil {
		t.Errorf("FileKey = %q, want files/ns/<hash>/uid-1/disk.vmdk with a valid key", a)
	}
	if b := FileKey("ns", "item/../2", "uid-1", "disk.vmdk"); a == b {
		t.Errorf("two items share the key %q", a)
	}
	if ns, session, ok := parseFileKey(a); !ok || ns != "ns" || session != "uid-1" {
		t.Errorf("parseFileKey(%q) = %q, %q, %v", a, ns, session, ok)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		url string
		ok  bool
	}{
		{"file://" + filepath.Join(dir, "a"), true},
		{"file:" + filepath.Join(dir, "b"), true},
		{"file://", false},
		{"gs://bucket", false},
		{"::", false},
	}
	for _, tt := range tests {
		s, err := Open(context.Background(), tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("Open(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
		if err == nil {
			_ = s.Close()
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err != nil {
		t.Errorf("Open did not create the directory: %v", err)
	}
	t.Chdir(dir)
	for _, rel := range []string{"file://./c/d", "file:e"} {
		s, err := Open(context.Background(), rel)
		if err != nil {
			t.Fatalf("Open(%q): %v", rel, err)
		}
		_ = s.Close()
	}
	for _, want := range []string{"c/d", "e"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("Open of a relative URL did not create %s under the working directory: %v", want, err)
		}
	}
}

func TestNoSpace(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here:", err)
	}
	defer func() { _ = f.Close() }()
	_, err = f.Write([]byte("x"))
	if !errors.Is(noSpace(err), ErrNoSpace) {
		t.Fatalf("noSpace(%v) is not ErrNoSpace", err)
	}
	if errors.Is(noSpace(os.ErrClosed), ErrNoSpace) {
		t.Fatal("noSpace marks an unrelated error as ErrNoSpace")
	}
}

func TestCollectSweepsCrashedWrites(t *testing.T) {
	b := newDirBucket(t)
	s := New(b, time.Now)
	w, err := b.NewWriter(context.Background(), "files/ns/i/s/a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("abandoned")); err != nil {
		t.Fatal(err)
	}
	// The process "crashes": the writer is never closed nor aborted.
	if stats, err := s.Collect(context.Background(), Keep{}, time.Hour); err != nil || stats.Deleted != 0 {
		t.Fatalf("Collect within grace = %+v, %v; want nothing deleted", stats, err)
	}
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	live := Keep{LiveSession: func(ns string, session types.UID) bool { return ns == "ns" && session == "s" }}
	if stats, err := s.Collect(context.Background(), live, time.Hour); err != nil || stats.Deleted != 0 {
		t.Fatalf("Collect past grace while the session lives = %+v, %v; want nothing deleted", stats, err)
	}
	if stats, err := s.Collect(context.Background(), Keep{}, time.Hour); err != nil || stats.Deleted != 1 || stats.DeletedBytes != 9 {
		t.Fatalf("Collect past grace = %+v, %v; want the temporary file deleted", stats, err)
	}
	if err := w.Abort(); err == nil {
		t.Fatal("the swept temporary file was still there to abort")
	}
}
