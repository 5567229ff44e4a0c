package connwatch

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bytesAcked returns how many bytes the peer of rc has acknowledged (TCP_INFO's
// tcpi_bytes_acked): a count that moves while the peer takes what is sent, and stops when it
// stops reading. A kernel too old to count them (before Linux 4.1) says 0, as one that fails.
func bytesAcked(rc syscall.RawConn) uint64 {
	var info *unix.TCPInfo
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); cerr != nil || err != nil {
		return 0
	}
	return info.Bytes_acked
}
