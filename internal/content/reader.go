package content

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	if r.r == nil {
		rc, err := r.store.Open(r.ctx, r.key, r.off, r.size-r.off)
		if err != nil {
			return 0, err
		}
		r.r = rc
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
	r.r = nil
	return err
}
