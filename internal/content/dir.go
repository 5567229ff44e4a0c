package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
)

// tempPrefix begins the names of the files a dirBucket writes before they are renamed into
// place. It holds a backslash, which no key may hold, so a temporary file can never be taken
// for an object nor collide with one.
const tempPrefix = ".tmp\\"

// dirBucket is a Bucket in a local directory: an object is a file at its key under the root.
// Writes go to a temporary file beside the target, synced and then renamed over it, so a reader
// sees the old bytes or the new, and a crash leaves at most a temporary file (which sweep
// removes).
type dirBucket struct {
	root string
}

// OpenDir returns a Bucket in the directory root, creating it if missing.
func OpenDir(root string) (Bucket, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("content: creating the store's directory: %w", err)
	}
	return &dirBucket{root: abs}, nil
}

// checkKey refuses a key that would not map to a path under the root: an empty, "." or ".."
// component, a backslash or a control character.
func checkKey(key string) error {
	for c := range strings.SplitSeq(key, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("content: key %q has an empty, \".\" or \"..\" component", key)
		}
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return fmt.Errorf("content: key %q holds a backslash or a control character", key)
	}
	return nil
}

func (b *dirBucket) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

// createTemp creates a temporary file in the directory of path, creating the directory first.
// A concurrent Delete may remove an emptied directory between the two, so it tries again once.
func createTemp(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(dir, tempPrefix+"*")
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 1 {
			return f, err
		}
	}
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}

func (b *dirBucket) NewWriter(ctx context.Context, key string) (Writer, error) {
	path, err := b.path(key)
	if err != nil {
		return nil, err
	}
	f, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	return &dirWriter{ctx: ctx, f: f, path: path}, nil
}

// writebackChunk is how many bytes a dirWriter lets pile up before it starts their writeback.
const writebackChunk = 8 << 20

// dirWriter writes a temporary file and renames it over its target on Close.
type dirWriter struct {
	ctx  context.Context
	f    *os.File
	path string
	done bool
	// written counts the bytes written; flushed, those whose writeback was started.
	written, flushed int64
}

func (w *dirWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.flushed >= writebackChunk {
		startWriteback(w.f, w.flushed, w.written-w.flushed)
		w.flushed = w.written
	}
	return n, err
}

func (w *dirWriter) Close() error {
	if w.done {
		return errors.New("content: writer already closed")
	}
	if err := w.ctx.Err(); err != nil {
		_ = w.Abort()
		return err
	}
	w.done = true
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.path)
	}
	if err != nil {
		_ = os.Remove(w.f.Name())
		return err
	}
	return syncDir(filepath.Dir(w.path))
}

func (w *dirWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	_ = w.f.Close()
	return os.Remove(w.f.Name())
}

// WriteIfAbsent writes a synced temporary file and hard-links it to key: link(2) fails if the
// name exists, atomically, so of two writers of one key exactly one succeeds.
func (b *dirBucket) WriteIfAbsent(ctx context.Context, key string, data []byte) error {
	path, err := b.path(key)
	if err != nil {
		return err
	}
	f, err := createTemp(path)
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return err
	}
	if err := os.Link(f.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrExists
		}
		return err
	}
	return syncDir(filepath.Dir(path))
}

func (b *dirBucket) NewRangeReader(_ context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	path, err := b.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, notExist(err)
	}
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		_ = f.Close()
		return nil, ErrNotExist
	}
	if offset < 0 {
		_ = f.Close()
		return nil, fmt.Errorf("content: negative offset %d", offset)
	}
	var r io.Reader = io.NewSectionReader(f, offset, 1<<62)
	if length >= 0 {
		r = io.NewSectionReader(f, offset, length)
	}
	return readCloser{r, f}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (b *dirBucket) Stat(_ context.Context, key string) (Info, error) {
	path, err := b.path(key)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Info{}, notExist(err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, ErrNotExist
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// notExist turns the file system's "no such file" into ErrNotExist.
func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrNotExist, err)
	}
	return err
}

// List walks the directory that holds every key with prefix, visiting the entries of each
// directory in the order of their names with a "/" after a directory's, which is the lexical
// order of the keys.
func (b *dirBucket) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		dir := prefix[:strings.LastIndex(prefix, "/")+1]
		if dir != "" {
			if err := checkKey(strings.TrimSuffix(dir, "/")); err != nil {
				yield(Info{}, err)
				return
			}
		}
		b.walk(ctx, dir, prefix, yield)
	}
}

// walk yields the objects under the key directory dir (empty or ending in "/") with prefix,
// and reports whether to go on.
func (b *dirBucket) walk(ctx context.Context, dir, prefix string, yield func(Info, error) bool) bool {
	if err := ctx.Err(); err != nil {
		return yield(Info{}, err)
	}
	entries, err := os.ReadDir(filepath.Join(b.root, filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil {
		return yield(Info{}, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), tempPrefix):
		case e.IsDir():
			names = append(names, e.Name()+"/")
		case e.Type().IsRegular():
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, name := range names {
		key := dir + name
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		if strings.HasSuffix(name, "/") {
			if !b.walk(ctx, key, prefix, yield) {
				return false
			}
			continue
		}
		info, err := b.Stat(ctx, key)
		if errors.Is(err, ErrNotExist) {
			continue // deleted since the directory was read
		}
		if !yield(info, err) {
			return false
		}
	}
	return true
}

// Delete removes key and then the directories it leaves empty, up to the root.
func (b *dirBucket) Delete(_ context.Context, key string) error {
	path, err := b.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for dir := filepath.Dir(path); dir != b.root; dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty, or already gone
		}
	}
	return nil
}

// sweep removes the temporary files a crash left behind: last written before cutoff, in the
// directory of a key that is not live.
func (b *dirBucket) sweep(ctx context.Context, cutoff time.Time, live func(key string) bool, stats *CollectStats) error {
	return filepath.WalkDir(b.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			return nil
		}
		if rel, err := filepath.Rel(b.root, path); err == nil && live(filepath.ToSlash(rel)) {
			return nil
		}
		if os.Remove(path) == nil {
			stats.Deleted++
			stats.DeletedBytes += fi.Size()
		}
		return nil
	})
}

func (b *dirBucket) Close() error { return nil }
