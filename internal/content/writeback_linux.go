package content

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to begin writing length bytes of f at offset to disk without
// waiting for it, so that the fsync that ends a large write finds little left to write.
func startWriteback(f *os.File, offset, length int64) {
	_ = unix.SyncFileRange(int(f.Fd()), offset, length, unix.SYNC_FILE_RANGE_WRITE)
}
