package content

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A Put that fills the disk fails with ErrNoSpace and leaves nothing behind: neither the key
// nor the temporary file, whose space is free again. It needs a small file system of its own,
// a tmpfs, which only a privileged test can mount.
func TestPutOnAFullDisk(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mounting a 1 MiB tmpfs needs privileges: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, 0) })
	b, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := New(b, time.Now)
	_, err = s.Put(context.Background(), "files/ns/i/s/big", bytes.NewReader(make([]byte, 2<<20)), Expect{})
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Put of 2 MiB into 1 MiB = %v, want ErrNoSpace", err)
	}
	assertKeys(t, b, "")
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if used := (st.Blocks - st.Bfree) * uint64(st.Bsize); used > 64<<10 {
		t.Fatalf("%d bytes still used after the failed Put, want the temporary file gone", used)
	}
	// The space is there again for a Put that fits.
	if _, err := s.Put(context.Background(), "files/ns/i/s/small", bytes.NewReader(make([]byte, 512<<10)), Expect{}); err != nil {
		t.Fatal(err)
	}
}
