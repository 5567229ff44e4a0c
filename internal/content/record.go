package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// maxRecordBytes bounds what reading a record takes in: a record of the most files a session
// may add is far smaller.
const maxRecordBytes = 16 << 20

// itemRecords is the prefix of an item's records.
func itemRecords(namespace, item string) string {
	return recordsPrefix + namespace + "/" + itemDir(item) + "/"
}

// recordKey is where an item's record of version is: zero-padded to the digits of the largest
// int64, so that the lexical order of the keys is the order of the versions.
func recordKey(namespace, item string, version int64) string {
	return fmt.Sprintf("%s%019d.json", itemRecords(namespace, item), version)
}

// recordVersion parses the version out of a record's key.
func recordVersion(key string) (int64, bool) {
	name := key[strings.LastIndex(key, "/")+1:]
	digits, ok := strings.CutSuffix(name, ".json")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	return v, err == nil && v > 0
}

// Open reads length bytes (-1: all) of key from offset.
func (s *Store) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	return s.bucket.NewRangeReader(ctx, key, offset, length)
}

// Stat describes key.
func (s *Store) Stat(ctx context.Context, key string) (Info, error) { return s.bucket.Stat(ctx, key) }

// Current reads the item's latest record; an item never committed has Version 0 and no files.
func (s *Store) Current(ctx context.Context, namespace, item string) (Record, error) {
	versions, err := s.versions(ctx, namespace, item)
	if err != nil || len(versions) == 0 {
		return Record{Namespace: namespace, Item: item, Files: []File{}}, err
	}
	return s.Version(ctx, namespace, item, versions[len(versions)-1])
}

// versions lists the versions of the item's records kept, in order.
func (s *Store) versions(ctx context.Context, namespace, item string) ([]int64, error) {
	var versions []int64
	for info, err := range s.bucket.List(ctx, itemRecords(namespace, item)) {
		if err != nil {
			return nil, err
		}
		if v, ok := recordVersion(info.Key); ok {
			versions = append(versions, v)
		}
	}
	return versions, nil
}

// Version reads the item's record of one content version (ErrNotExist if none is kept).
func (s *Store) Version(ctx context.Context, namespace, item string, version int64) (Record, error) {
	if version == 0 {
		return Record{Namespace: namespace, Item: item, Files: []File{}}, nil
	}
	return s.readRecord(ctx, recordKey(namespace, item, version))
}

func (s *Store) readRecord(ctx context.Context, key string) (Record, error) {
	r, err := s.bucket.NewRangeReader(ctx, key, 0, -1)
	if err != nil {
		return Record{}, err
	}
	defer func() { _ = r.Close() }()
	var rec Record
	dec := json.NewDecoder(io.LimitReader(r, maxRecordBytes))
	if err := dec.Decode(&rec); err != nil {
		return Record{}, fmt.Errorf("content: reading the record %s: %w", key, err)
	}
	if rec.Files == nil {
		rec.Files = []File{}
	}
	return rec, nil
}

// Commit writes the item's next record, the latest one with change applied, unless another
// commit came first (then it applies change to that one and tries again). If the latest record
// was committed by session already, it is returned as it is: a retried Commit is harmless.
// Records older than the latest are searched too, as long as Collect keeps them, so that a retry
// that another session's commit overtook does not apply change twice.
func (s *Store) Commit(ctx context.Context, namespace, item string, session types.UID, change Change) (Record, error) {
	for _, name := range change.Remove {
		if err := CheckName(name); err != nil {
			return Record{}, err
		}
	}
	for _, f := range change.Put {
		if err := CheckName(f.Name); err != nil {
			return Record{}, err
		}
	}
	for {
		latest, done, err := s.committedBy(ctx, namespace, item, session)
		if errors.Is(err, errRelist) {
			continue
		}
		if err != nil || done {
			return latest, err
		}
		next := apply(latest, change)
		next.Session, next.Committed = session, s.now().UTC()
		data, err := json.Marshal(next)
		if err != nil {
			return Record{}, err
		}
		err = s.bucket.WriteIfAbsent(ctx, recordKey(namespace, item, next.Version), data)
		if !errors.Is(err, ErrExists) {
			return next, noSpace(err)
		}
	}
}

// errRelist says the records listed changed while they were read.
var errRelist = errors.New("content: the item's records changed while read")

// committedBy returns the item's latest record, or the record session committed (done true) if
// a record still kept says so.
func (s *Store) committedBy(ctx context.Context, namespace, item string, session types.UID) (Record, bool, error) {
	versions, err := s.versions(ctx, namespace, item)
	if err != nil {
		return Record{}, false, err
	}
	latest := Record{Namespace: namespace, Item: item, Files: []File{}}
	for i, v := range slices.Backward(versions) {
		rec, err := s.Version(ctx, namespace, item, v)
		switch {
		case errors.Is(err, ErrNotExist) && i == len(versions)-1:
			// Only a newer record lets Collect delete the latest: the list is stale.
			return Record{}, false, errRelist
		case errors.Is(err, ErrNotExist):
			continue // collected since it was listed
		case err != nil:
			return Record{}, false, err
		}
		if session != "" && rec.Session == session {
			return rec, true, nil
		}
		if i == len(versions)-1 {
			latest = rec
		}
	}
	return latest, false, nil
}

// apply returns the record after rec with change applied: the files put carry the new version,
// the files removed are gone, and the files are in the order of their names.
func apply(rec Record, change Change) Record {
	files := make(map[string]File, len(rec.Files)+len(change.Put))
	for _, f := range rec.Files {
		files[f.Name] = f
	}
	for _, name := range change.Remove {
		delete(files, name)
	}
	next := Record{Namespace: rec.Namespace, Item: rec.Item, Version: rec.Version + 1}
	for _, f := range change.Put {
		f.Version = next.Version
		files[f.Name] = f
	}
	next.Files = make([]File, 0, len(files))
	for _, name := range slices.Sorted(maps.Keys(files)) {
		next.Files = append(next.Files, files[name])
	}
	return next
}

// DiscardSession deletes what session staged for item and no record names.
func (s *Store) DiscardSession(ctx context.Context, namespace, item string, session types.UID) error {
	named, err := s.namedKeys(ctx, namespace, item)
	if err != nil {
		return err
	}
	var errs []error
	for info, err := range s.bucket.List(ctx, sessionPrefix(namespace, item, session)) {
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if !named[info.Key] {
			errs = append(errs, s.bucket.Delete(ctx, info.Key))
		}
	}
	return errors.Join(errs...)
}

// namedKeys returns the keys the item's kept records name.
func (s *Store) namedKeys(ctx context.Context, namespace, item string) (map[string]bool, error) {
	versions, err := s.versions(ctx, namespace, item)
	if err != nil {
		return nil, err
	}
	named := map[string]bool{}
	for _, v := range versions {
		rec, err := s.Version(ctx, namespace, item, v)
		if errors.Is(err, ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, f := range rec.Files {
			named[f.Key] = true
		}
	}
	return named, nil
}
