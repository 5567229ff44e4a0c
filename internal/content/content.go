// Package content keeps the bytes of library items: the files update sessions stage, and the
// record of each item's content (its files, sizes, checksums and content version). Bytes never
// go into etcd or a custom resource; they live in a Bucket, a local directory or S3-compatible
// object storage, that every replica shares and that outlives any of them.
//
// Keys: a session's file is staged under FileKey and stays there once the session completes:
// completing writes a new Record that names it, so no byte is copied and a reader sees the old
// record or the new one, never a mix. The records of an item are immutable objects, one per
// content version, written only if absent: two replicas completing sessions of one item at once
// cannot both write the same version.
//
// Layout: files/<namespace>/<item hash>/<session UID>/<name> and
// records/<namespace>/<item hash>/<version, 19 digits>.json. A write under way is invisible
// until it completes (a temporary file beside its key, an S3 multipart upload); what a crash
// leaves of one, Collect removes.
package content

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/types"
)

// Errors of the package, compared with errors.Is.
var (
	// ErrNotExist: no object under the key, or no file of that name in a record.
	ErrNotExist = errors.New("content: no such object")
	// ErrExists: WriteIfAbsent found the key taken.
	ErrExists = errors.New("content: the object exists")
	// ErrTooLarge: a Put read more bytes than Expect.MaxBytes allows; nothing was kept.
	ErrTooLarge = errors.New("content: more bytes than allowed")
	// ErrNoSpace: the bucket refused the bytes for want of space (a full disk, a quota).
	ErrNoSpace = errors.New("content: the store is out of space")
)

// Bucket is a flat space of keys holding bytes. Two implementations: a local directory
// (file://) and S3-compatible object storage (s3://). Keys are paths of "/"-separated
// components, and no key is the leading components of another: a directory holds no bytes.
type Bucket interface {
	// NewWriter opens a writer for key. The bytes become visible under key only when Close
	// returns nil, replacing what was there at once; Abort, or a Close after ctx is done,
	// discards them and leaves key as it was.
	NewWriter(ctx context.Context, key string) (Writer, error)
	// WriteIfAbsent writes data under key unless the key exists (ErrExists then).
	WriteIfAbsent(ctx context.Context, key string, data []byte) error
	// NewRangeReader reads length bytes of key from offset; length -1 reads to the end.
	NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat describes key, or fails with ErrNotExist.
	Stat(ctx context.Context, key string) (Info, error)
	// List yields the keys under prefix in lexical order.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
	// Delete removes key; an absent key is no error.
	Delete(ctx context.Context, key string) error
	Close() error
}

// Writer is an open write to a Bucket.
type Writer interface {
	io.Writer
	// Close commits the bytes written.
	Close() error
	// Abort discards them.
	Abort() error
}

// Info describes one object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Checksum is a file's checksum as the vSphere API spells it: algorithm SHA1, MD5, SHA256 or
// SHA512, and the lowercase hex digest.
type Checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksum"`
}

// Expect is what a Put holds the bytes to. Zero fields hold nothing.
type Expect struct {
	// Size is the exact size promised (-1 or 0 with SizeKnown false: none).
	Size      int64
	SizeKnown bool
	// Checksum is the checksum promised; its Algorithm is the one computed. Without one,
	// SHA256 is computed.
	Checksum Checksum
	// MaxBytes bounds the bytes read; past it Put fails with ErrTooLarge.
	MaxBytes int64
}

// Received is what a Put stored.
type Received struct {
	Size     int64
	Checksum Checksum
}

// MismatchError says the bytes a Put read did not match what was promised; nothing was kept.
type MismatchError struct {
	What      string // "size" or "checksum"
	Want, Got string
	Received  int64
}

func (e *MismatchError) Error() string {
	return "content: the " + e.What + " is " + e.Got + ", not the " + e.Want + " promised"
}

// Record is an item's content: which files make it, their sizes and checksums, and its content
// version. It is the one place that says so; version 0 is an item with no content.
type Record struct {
	Namespace string    `json:"namespace"`
	Item      string    `json:"item"`
	Version   int64     `json:"version"`
	Session   types.UID `json:"session,omitempty"`
	Committed time.Time `json:"committed"`
	Files     []File    `json:"files"`
}

// File is one file of a Record.
type File struct {
	Name     string   `json:"name"`
	Size     int64    `json:"size"`
	Checksum Checksum `json:"checksum"`
	// Key is where its bytes are.
	Key string `json:"key"`
	// Version is the content version in which the file last changed.
	Version int64 `json:"version"`
}

// Change is what a completing session does to its item's content.
type Change struct {
	// Put adds or replaces files (their Version is set by Commit).
	Put []File
	// Remove names files to remove.
	Remove []string
}

// Store keeps content in a Bucket.
type Store struct {
	bucket Bucket
	now    func() time.Time
}

// Open opens the store a --content-store URL names: file:///dir (created if missing; file:dir
// and file://./dir name a directory relative to the working one), or
// s3://bucket?endpoint=URL&region=R&use_path_style=true with credentials from the usual
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment (or the SDK's other sources).
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("content: the store URL: %w", err)
	}
	var b Bucket
	switch u.Scheme {
	case "file":
		dir := u.Opaque
		if dir == "" {
			dir = u.Host + u.Path
		}
		if dir == "" {
			return nil, fmt.Errorf("content: %q names no directory", rawURL)
		}
		b, err = OpenDir(dir)
	case "s3":
		b, err = OpenS3(ctx, u)
	default:
		return nil, fmt.Errorf("content: the store URL %q is neither file:// nor s3://", rawURL)
	}
	if err != nil {
		return nil, err
	}
	return New(b, time.Now), nil
}

// New returns a Store over b.
func New(b Bucket, now func() time.Time) *Store { return &Store{bucket: b, now: now} }

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// Bucket returns the bucket the store keeps its content in.
func (s *Store) Bucket() Bucket { return s.bucket }

// FileKey is where file name of session (of item in namespace) is staged and, once the session
// completes, kept. Item ids are hashed into the key; names are checked by CheckName first.
func FileKey(namespace, item string, session types.UID, name string) string {
	return sessionPrefix(namespace, item, session) + name
}

// filesPrefix begins every FileKey; records begin with recordsPrefix.
const (
	filesPrefix   = "files/"
	recordsPrefix = "records/"
)

// itemDir is the key component of an item: a hash of its id, which may hold any character.
func itemDir(item string) string {
	sum := sha256.Sum256([]byte(item))
	return hex.EncodeToString(sum[:16])
}

func sessionPrefix(namespace, item string, session types.UID) string {
	return filesPrefix + namespace + "/" + itemDir(item) + "/" + string(session) + "/"
}

// maxNameBytes is the longest file name: what one path component may hold on common file
// systems, so a name that fits here fits in a directory store.
const maxNameBytes = 255

// CheckName refuses a file name that is empty, over 255 bytes, ".", "..", not UTF-8, or holds
// '/', '\', NUL or another control character, saying why.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("the file name is empty")
	case len(name) > maxNameBytes:
		return fmt.Errorf("the file name is %d bytes long, over the %d allowed", len(name), maxNameBytes)
	case name == "." || name == "..":
		return fmt.Errorf("the file name %q names a directory", name)
	case !utf8.ValidString(name):
		return errors.New("the file name is not valid UTF-8")
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("the file name %q holds a '/' or '\\'", name)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("the file name %q holds a control character", name)
	}
	return nil
}
