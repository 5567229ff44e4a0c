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
// THIS FILE FIXES THE PACKAGE'S API for the branches that use it; its bodies are filled in by
// the content branch.
package content

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

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
// (file://) and S3-compatible object storage (s3://).
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

// Open opens the store a --content-store URL names: file:///dir (created if missing), or
// s3://bucket?endpoint=URL&region=R&use_path_style=true with credentials from the usual
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment (or the SDK's other sources).
func Open(ctx context.Context, url string) (*Store, error) { panic("content branch") }

// New returns a Store over b.
func New(b Bucket, now func() time.Time) *Store { return &Store{bucket: b, now: now} }

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// FileKey is where file name of session (of item in namespace) is staged and, once the session
// completes, kept. Item ids are hashed into the key; names are checked by CheckName first.
func FileKey(namespace, item string, session types.UID, name string) string {
	panic("content branch")
}

// CheckName refuses a file name that is empty, over 255 bytes, ".", "..", or holds '/', '\',
// NUL or another control character, saying why.
func CheckName(name string) error { panic("content branch") }

// Put streams r into key, computing size and checksum as bytes flow; the bytes are kept only if
// every one arrived and they match want (else a *MismatchError, ErrTooLarge, ErrNoSpace or the
// read error, and key is as it was).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, want Expect) (Received, error) {
	panic("content branch")
}

// Open reads length bytes (-1: all) of key from offset.
func (s *Store) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	panic("content branch")
}

// Stat describes key.
func (s *Store) Stat(ctx context.Context, key string) (Info, error) { panic("content branch") }

// DiscardSession deletes what session staged for item and no record names.
func (s *Store) DiscardSession(ctx context.Context, namespace, item string, session types.UID) error {
	panic("content branch")
}

// Current reads the item's latest record; an item never committed has Version 0 and no files.
func (s *Store) Current(ctx context.Context, namespace, item string) (Record, error) {
	panic("content branch")
}

// Version reads the item's record of one content version (ErrNotExist if none is kept).
func (s *Store) Version(ctx context.Context, namespace, item string, version int64) (Record, error) {
	panic("content branch")
}

// Commit writes the item's next record, the latest one with change applied, unless another
// commit came first (then it applies change to that one and tries again). If the latest record
// was committed by session already, it is returned as it is: a retried Commit is harmless.
func (s *Store) Commit(ctx context.Context, namespace, item string, session types.UID, change Change) (Record, error) {
	panic("content branch")
}

// CollectStats says what a Collect did.
type CollectStats struct {
	Scanned, Deleted int
	DeletedBytes     int64
}

// Keep tells Collect what is still in use.
type Keep struct {
	// LiveSession reports whether a session (an update session, or later a download session)
	// still exists: what it staged is not an orphan.
	LiveSession func(namespace string, session types.UID) bool
	// Pinned reports whether a reader still reads one content version of an item (a download
	// session, later); nil pins nothing. The latest version is always kept.
	Pinned func(namespace, item string, version int64) bool
}

// Collect deletes, once older than grace, files no kept record names whose session is not
// live, and records older than the latest that nothing pins. It is what finds what a crash,
// or a session deleted by hand, left behind.
func (s *Store) Collect(ctx context.Context, keep Keep, grace time.Duration) (CollectStats, error) {
	panic("content branch")
}
