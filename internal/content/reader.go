package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Reader reads one object of a Store as an io.ReadSeeker, which is what http.ServeContent
// serves Range requests from. It opens a range of the object only when it is read, from where
// it was sought to the object's end: seeking (to learn the size, to a range's start) costs
// nothing, the bytes come from the bucket as they are read, and no more of the object is ever
// held than a read's buffer. It is not safe for concurrent use: each download has its own.
type Reader struct {
	ctx   context.Context
	store *Store
	key   string
	size  int64

	off int64
	r   io.ReadCloser
	// lent is whether File handed out the open range's file: bytes may have left it since,
	// moving its position past off.
	lent bool
}

// NewReader returns a Reader of the size bytes of key, read with ctx; Close it once done. size
// is what the item's record says: an object that turns out shorter fails the read that finds
// it so (io.ErrUnexpectedEOF), and one longer is read no further.
func (s *Store) NewReader(ctx context.Context, key string, size int64) *Reader {
	return &Reader{ctx: ctx, store: s, key: key, size: size}
}

// Read reads from the offset sought, opening the object's range there if it is not open yet.
func (r *Reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, context.Cause(r.ctx)
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.lent {
		_ = r.closeRange() // its reader lags behind what File sent: open it again at the offset
	}
	if err := r.open(); err != nil {
		return 0, err
	}
	if rest := r.size - r.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.r.Read(p)
	r.off += int64(n)
	if errors.Is(err, io.EOF) && r.off < r.size {
		err = fmt.Errorf("content: %s ended after %d of its %d bytes: %w", r.key, r.off, r.size, io.ErrUnexpectedEOF)
	}
	return n, err
}

// open opens the object's range from the offset, if it is not open yet.
func (r *Reader) open() error {
	if r.r != nil {
		return nil
	}
	rc, err := r.store.Open(r.ctx, r.key, r.off, r.size-r.off)
	if err != nil {
		return err
	}
	r.r = rc
	return nil
}

// File returns the file that holds the object, positioned at the offset, when the bucket keeps
// objects as files (a local directory), so that a server can have the kernel send it
// (sendfile) rather than copy it through Read; nil for other buckets, or once ctx is done or
// the object cannot be opened (Read then says why). After bytes may have been sent from it, Sync
// moves the offset past them.
func (r *Reader) File() *os.File {
	if r.ctx.Err() != nil || r.off >= r.size || r.open() != nil {
		return nil
	}
	rc, ok := r.r.(readCloser)
	if !ok {
		return nil
	}
	f, ok := rc.Closer.(*os.File)
	if !ok {
		return nil
	}
	if _, err := f.Seek(r.off, io.SeekStart); err != nil {
		return nil
	}
	r.lent = true
	return f
}

// Sync moves the offset to the position of the file File returned, past the bytes sent from it
// without Read, and returns how many there were. A Read after File opens the range again, as
// its reader lags behind the file.
func (r *Reader) Sync() int64 {
	if !r.lent || r.r == nil {
		return 0
	}
	f := r.r.(readCloser).Closer.(*os.File)
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil || pos <= r.off {
		return 0
	}
	n := min(pos, r.size) - r.off
	r.off += n
	return n
}

// Seek sets the offset of the next Read. Moving it closes the range open, if any; the next
// Read opens another.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return r.off, fmt.Errorf("content: seek whence %d", whence)
	}
	if offset < 0 {
		return r.off, fmt.Errorf("content: seek to the negative offset %d", offset)
	}
	if offset != r.off {
		_ = r.closeRange() // a read error of the range is no error of the object
		r.off = offset
	}
	return offset, nil
}

// Offset is where the next Read reads: how far the object has been read, or sought.
func (r *Reader) Offset() int64 { return r.off }

// Close closes the range open, if any.
func (r *Reader) Close() error { return r.closeRange() }

func (r *Reader) closeRange() error {
	if r.r == nil {
		return nil
	}
	err := r.r.Close()
	r.r, r.lent = nil, false
	return err
}
