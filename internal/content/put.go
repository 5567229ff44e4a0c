package content

import (
	"context"
	"crypto/md5"  //nolint:gosec // MD5 is one of the checksums vSphere clients promise, not a security measure.
	"crypto/sha1" //nolint:gosec // SHA1 likewise.
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Checksum algorithms, as the vSphere API names them.
const (
	SHA1   = "SHA1"
	MD5    = "MD5"
	SHA256 = "SHA256"
	SHA512 = "SHA512"
)

// NewHash returns the hash of a checksum algorithm (SHA256 when empty), or an error naming the
// algorithms there are.
func NewHash(algorithm string) (hash.Hash, string, error) {
	switch strings.ToUpper(algorithm) {
	case SHA1:
		return sha1.New(), SHA1, nil //nolint:gosec // see the import
	case MD5:
		return md5.New(), MD5, nil //nolint:gosec // see the import
	case SHA256, "":
		return sha256.New(), SHA256, nil
	case SHA512:
		return sha512.New(), SHA512, nil
	}
	return nil, "", fmt.Errorf("the checksum algorithm %q is none of SHA1, MD5, SHA256, SHA512", algorithm)
}

// copyBuffers hold the buffers Put copies through: larger than io.Copy's own, so that a write
// to the bucket and a hash update each take a sizeable run of bytes.
var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

const copyBufferSize = 64 << 10

// Put streams r into key, computing size and checksum as bytes flow; the bytes are kept only if
// every one arrived and they match want (else a *MismatchError, ErrTooLarge, ErrNoSpace or the
// read error, and key is as it was).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, want Expect) (Received, error) {
	h, algorithm, err := NewHash(want.Checksum.Algorithm)
	if err != nil {
		return Received{}, err
	}
	if want.MaxBytes > 0 && want.SizeKnown && want.Size > want.MaxBytes {
		return Received{}, fmt.Errorf("%w: %d bytes promised, %d allowed", ErrTooLarge, want.Size, want.MaxBytes)
	}
	w, err := s.newWriter(ctx, key, want)
	if err != nil {
		return Received{}, noSpace(err)
	}
	got, err := copyChecked(ctx, w, r, h, want)
	got.Checksum.Algorithm = algorithm
	if err != nil {
		_ = w.Abort()
		return got, noSpace(err)
	}
	if err := w.Close(); err != nil {
		return got, noSpace(err)
	}
	return got, nil
}

// sizedBucket is a Bucket whose writers buffer by the size of what is to come: an exact size,
// or a bound (-1: none).
type sizedBucket interface {
	newSizedWriter(ctx context.Context, key string, size int64, exact bool) (Writer, error)
}

// newWriter opens the writer of a Put, telling a sizedBucket what want says of the size.
func (s *Store) newWriter(ctx context.Context, key string, want Expect) (Writer, error) {
	sb, ok := s.bucket.(sizedBucket)
	switch {
	case !ok:
		return s.bucket.NewWriter(ctx, key)
	case want.SizeKnown && want.Size >= 0:
		return sb.newSizedWriter(ctx, key, want.Size, true)
	case want.MaxBytes > 0:
		return sb.newSizedWriter(ctx, key, want.MaxBytes, false)
	}
	return sb.newSizedWriter(ctx, key, -1, false)
}

// copyChecked copies r to w and h, reading at most one byte past what want allows so that a
// body too long is caught without reading it all, and checks what it read against want.
func copyChecked(ctx context.Context, w io.Writer, r io.Reader, h hash.Hash, want Expect) (Received, error) {
	limit := int64(-1)
	if want.MaxBytes > 0 {
		limit = want.MaxBytes
	}
	if want.SizeKnown && want.Size >= 0 && (limit < 0 || want.Size < limit) {
		limit = want.Size
	}
	if limit >= 0 {
		r = io.LimitReader(r, limit+1)
	}
	counter := &counter{ctx: ctx}
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	defer copyBuffers.Put(buf)
	_, err := io.CopyBuffer(io.MultiWriter(w, h, counter), onlyReader{r}, buf[:])
	got := Received{Size: counter.n, Checksum: Checksum{Value: hex.EncodeToString(h.Sum(nil))}}
	switch {
	case err != nil:
		return got, err
	case want.MaxBytes > 0 && got.Size > want.MaxBytes:
		return got, fmt.Errorf("%w: over %d bytes", ErrTooLarge, want.MaxBytes)
	case want.SizeKnown && got.Size != want.Size:
		return got, &MismatchError{What: "size", Want: strconv.FormatInt(want.Size, 10),
			Got: sizeGot(got.Size, want.Size), Received: got.Size}
	case want.Checksum.Value != "" && !strings.EqualFold(want.Checksum.Value, got.Checksum.Value):
		return got, &MismatchError{What: "checksum", Want: strings.ToLower(want.Checksum.Value),
			Got: got.Checksum.Value, Received: got.Size}
	}
	return got, nil
}

// sizeGot says how many bytes came: past the promise only "more than" is known, as reading
// stopped one byte after it.
func sizeGot(got, promised int64) string {
	if got > promised {
		return "more than " + strconv.FormatInt(promised, 10)
	}
	return strconv.FormatInt(got, 10)
}

// onlyReader hides a reader's WriterTo, so that io.CopyBuffer copies through its buffer.
type onlyReader struct{ io.Reader }

// counter counts the bytes written through it, and stops the copy once ctx is done.
type counter struct {
	ctx context.Context
	n   int64
}

func (c *counter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	c.n += int64(len(p))
	return len(p), nil
}

// noSpace marks an error that says the disk or a quota is full as ErrNoSpace.
func noSpace(err error) error {
	if errors.Is(err, ErrNoSpace) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || isS3NoSpace(err) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}
