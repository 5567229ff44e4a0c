package content

import (
	"context"
	"errors"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// sweeper is a Bucket that keeps writes under way of its own that a crash mid-write leaves
// behind (the dir bucket's temporary files, S3's multipart uploads): sweep removes those
// begun or last written before cutoff, unless live says their key is still being written.
type sweeper interface {
	sweep(ctx context.Context, cutoff time.Time, live func(key string) bool, stats *CollectStats) error
}

// Collect deletes, once older than grace, files no kept record names whose session is not
// live, and records older than the latest that nothing pins. It is what finds what a crash,
// or a session deleted by hand, left behind.
//
// Records go first, so that the files only they named go in the same pass. Grace protects what
// is being written or was just committed: a session whose add was accepted but whose object
// the caller has not seen yet, and a retried Commit looking for its own record.
func (s *Store) Collect(ctx context.Context, keep Keep, grace time.Duration) (CollectStats, error) {
	cutoff := s.now().Add(-grace)
	var stats CollectStats
	named, err := s.collectRecords(ctx, keep, cutoff, &stats)
	if err != nil {
		return stats, err
	}
	if err := s.collectFiles(ctx, keep, cutoff, named, &stats); err != nil {
		return stats, err
	}
	if sw, ok := s.bucket.(sweeper); ok {
		return stats, sw.sweep(ctx, cutoff, keep.liveKey, &stats)
	}
	return stats, nil
}

// collectRecords deletes the records Collect may delete and returns the file keys of the ones
// kept.
func (s *Store) collectRecords(ctx context.Context, keep Keep, cutoff time.Time, stats *CollectStats) (map[string]bool, error) {
	named := map[string]bool{}
	var items [][]Info // the records of each item, oldest first
	for info, err := range s.bucket.List(ctx, recordsPrefix) {
		if err != nil {
			return nil, err
		}
		stats.Scanned++
		if _, ok := recordVersion(info.Key); !ok {
			continue
		}
		dir := info.Key[:strings.LastIndex(info.Key, "/")+1]
		if n := len(items); n > 0 && strings.HasPrefix(items[n-1][0].Key, dir) {
			items[n-1] = append(items[n-1], info)
		} else {
			items = append(items, []Info{info})
		}
	}
	for _, records := range items {
		if err := s.collectItem(ctx, records, keep, cutoff, named, stats); err != nil {
			return nil, err
		}
	}
	return named, nil
}

// collectItem deletes the records of one item that were superseded before cutoff and are not
// pinned, and adds the file keys of the others to named. Superseded, not made: a reader that
// pinned a version just before the next one was committed (a download session the collector's
// list of readers does not show yet) keeps it for the grace.
func (s *Store) collectItem(ctx context.Context, records []Info, keep Keep, cutoff time.Time,
	named map[string]bool, stats *CollectStats) error {
	for i, info := range records {
		rec, err := s.readRecord(ctx, info.Key)
		if errors.Is(err, ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		latest := i == len(records)-1
		pinned := keep.Pinned != nil && keep.Pinned(rec.Namespace, rec.Item, rec.Version)
		if latest || pinned || !records[i+1].ModTime.Before(cutoff) {
			for _, f := range rec.Files {
				named[f.Key] = true
			}
			continue
		}
		if err := s.bucket.Delete(ctx, info.Key); err != nil {
			return err
		}
		stats.Deleted++
		stats.DeletedBytes += info.Size
	}
	return nil
}

// collectFiles deletes the files older than cutoff that no kept record names and whose
// session is not live.
func (s *Store) collectFiles(ctx context.Context, keep Keep, cutoff time.Time, named map[string]bool, stats *CollectStats) error {
	for info, err := range s.bucket.List(ctx, filesPrefix) {
		if err != nil {
			return err
		}
		stats.Scanned++
		if named[info.Key] || !info.ModTime.Before(cutoff) {
			continue
		}
		if keep.liveKey(info.Key) {
			continue
		}
		if err := s.bucket.Delete(ctx, info.Key); err != nil {
			return err
		}
		stats.Deleted++
		stats.DeletedBytes += info.Size
	}
	return nil
}

// liveKey reports whether key is a FileKey of a live session.
func (k Keep) liveKey(key string) bool {
	namespace, session, ok := parseFileKey(key)
	return ok && k.LiveSession != nil && k.LiveSession(namespace, session)
}

// parseFileKey returns the namespace and session of a FileKey.
func parseFileKey(key string) (namespace string, session types.UID, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(key, filesPrefix), "/", 4)
	if len(parts) != 4 {
		return "", "", false
	}
	return parts[0], types.UID(parts[2]), true
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
