// Package store is the one write path for UpdateSessions, shared by the REST handlers and the
// reconciler: it finds sessions (by id from the informer's events, then the API server), writes
// them with updates that carry the resourceVersion they were based on (optimistic concurrency)
// and are retried on the live object when they conflict, and remembers its own last writes until
// the cache shows them, as the kubelet's lease controller keeps its latest lease. A change
// function says whether there is anything to write.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/metrics"
)

const (
	// maxWriteAttempts bounds the retries of a write that keeps conflicting.
	maxWriteAttempts = 5
	// maxIDLength bounds a session id; a UID has 36 characters.
	maxIDLength = 64
	// idField is the session id's field selector on the API server (a selectable field of the
	// CRD); the cache has no index of it: Find uses byID.
	idField = "status.id"
)

// NotFoundError: no session has the id (any more).
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("update session %q does not exist", e.ID) }

// BusyError: the session kept changing under maxWriteAttempts writes in a row.
type BusyError struct{ ID string }

func (e *BusyError) Error() string {
	return fmt.Sprintf("update session %s is being changed by others", e.ID)
}

// ChangeFunc changes a session in place and reports whether there is anything to write, or
// refuses the change with an error.
type ChangeFunc func(*v1alpha1.UpdateSession) (changed bool, err error)

// Part is the part of a session a write goes to.
type Part int

// The parts of a session, each written through its own endpoint.
const (
	Status Part = iota
	Spec
)

// +kubebuilder:rbac:groups=library.contentlib.dev,resources=updatesessions,verbs=patch

// Store reads sessions from the manager's cache and writes them to the API server. It patches
// the spec (see Update).
type Store struct {
	client    client.Client
	apiReader client.Reader
	clock     clock.PassiveClock
	writes    ownWrites
	lookups   *lookups
	reads     *readBudgets
	// byID is filled by Watch: Find finds sessions there (only on the API server without it).
	byID byID
}

// New returns a Store that reads through c's cache, reads live objects with apiReader, and
// writes with c. Callers' reads are limited by DefaultReadLimits (see WithReadLimits).
func New(c client.Client, apiReader client.Reader, clk clock.PassiveClock) *Store {
	return &Store{client: c, apiReader: apiReader, clock: clk, lookups: newLookups(),
		reads: newReadBudgets(DefaultReadLimits)}
}

// WithReadLimits sets the limits of ChargeRead, before the store is used, and returns s.
func (s *Store) WithReadLimits(l ReadLimits) *Store {
	s.reads = newReadBudgets(l)
	return s
}

// ChargeRead spends one API-server read of caller's budget (see ReadLimits), or refuses with
// ErrReadBudget. The REST server charges a call that reads the API server on the caller's
// behalf before it reads.
func (s *Store) ChargeRead(caller string) error {
	return s.reads.take(caller, s.clock.Now())
}

// Watch lets the store forget its own writes once the informer delivers them, and forget
// deleted sessions.
func (s *Store) Watch(ctx context.Context, c cache.Cache) error {
	informer, err := c.GetInformer(ctx, &v1alpha1.UpdateSession{})
	if err != nil {
		return err
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if us, ok := obj.(*v1alpha1.UpdateSession); ok {
				s.byID.set(us)
			}
		},
		UpdateFunc: func(_, obj any) {
			if us, ok := obj.(*v1alpha1.UpdateSession); ok {
				s.byID.set(us)
				s.writes.observed(us)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if us, ok := obj.(*v1alpha1.UpdateSession); ok {
				s.byID.remove(us)
				s.writes.forget(us.UID)
			}
		},
	})
	return err
}

// Get returns the session key names: the cached one, or this store's own later write of it.
func (s *Store) Get(ctx context.Context, key client.ObjectKey) (*v1alpha1.UpdateSession, error) {
	var us v1alpha1.UpdateSession
	if err := s.client.Get(ctx, key, &us); err != nil {
		return nil, err
	}
	if fresh := s.writes.freshest(&us); fresh != &us {
		return fresh.DeepCopy(), nil
	}
	return &us, nil
}

// Find returns the session with the given id: from the cache, or, when the cache does not have
// it (yet: a session made a moment ago shows up there within seconds), from the API server if
// live says so (asked only then), within the limits of lookups, else from the cache once it
// caught up. An id is a UID: a session whose status.id names another object's UID is never
// returned for it.
//
// The session is shared with the cache (or with this store's memory of its own writes): read
// it, never change it, and pass a DeepCopy to Update or Delete. Not copying is what lets a
// keep-alive that needs no write be answered without allocating the session again.
func (s *Store) Find(ctx context.Context, id string, live func() bool) (*v1alpha1.UpdateSession, error) {
	if !ValidID(id) {
		return nil, &NotFoundError{ID: id}
	}
	if us := s.current(id); us != nil {
		return us, nil
	}
	if !live() {
		us, err := s.awaitCache(ctx, id)
		if errors.Is(err, ErrLookupThrottled) {
			return nil, &NotFoundError{ID: id}
		}
		if err != nil {
			return nil, err
		}
		return s.writes.freshest(us), nil
	}
	return s.findLive(ctx, id)
}

// Current returns the freshest version of us this store knows: the cache's, or its own later
// write of it; nil once the cache no longer has it. Like Find's, it is shared: never change it.
func (s *Store) Current(us *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	return s.current(string(us.UID))
}

// current returns the freshest version of the session with the given id that the cache has.
func (s *Store) current(id string) *v1alpha1.UpdateSession {
	if cached := s.byID.get(id); cached != nil {
		return s.writes.freshest(cached)
	}
	return nil
}

// findLive looks id up on the API server: not again for a while once it was missing, once for
// all concurrent callers, and at a bounded rate. Past the rate it gives the cache a moment to
// catch up, and then gives up with ErrLookupThrottled.
func (s *Store) findLive(ctx context.Context, id string) (*v1alpha1.UpdateSession, error) {
	if s.lookups.missedRecently(id, s.clock.Now()) {
		return nil, &NotFoundError{ID: id}
	}
	found, err, _ := s.lookups.flight.Do(id, func() (any, error) {
		if !s.lookups.rate.Allow() {
			return s.awaitCache(ctx, id)
		}
		var list v1alpha1.UpdateSessionList
		if err := s.apiReader.List(ctx, &list, client.MatchingFields{idField: id}); err != nil {
			return nil, err
		}
		us := owner(list.Items, id)
		if us != nil {
			Trim(us)
		}
		if us == nil {
			s.lookups.missed(id, s.clock.Now())
			return nil, &NotFoundError{ID: id}
		}
		return us, nil
	})
	if err != nil {
		return nil, err
	}
	return s.writes.freshest(found.(*v1alpha1.UpdateSession)), nil
}

// awaitCache polls the cache for id for up to cacheGrace and returns the informer's shared
// object; ErrLookupThrottled if it never shows.
func (s *Store) awaitCache(ctx context.Context, id string) (*v1alpha1.UpdateSession, error) {
	var found *v1alpha1.UpdateSession
	err := wait.PollUntilContextTimeout(ctx, cachePoll, cacheGrace, false, func(context.Context) (bool, error) {
		found = s.byID.get(id)
		return found != nil, nil
	})
	if found == nil {
		return nil, errors.Join(ErrLookupThrottled, err)
	}
	return found, nil
}

// owner returns the session whose UID is id.
func owner(sessions []v1alpha1.UpdateSession, id string) *v1alpha1.UpdateSession {
	for i := range sessions {
		if string(sessions[i].UID) == id {
			return &sessions[i]
		}
	}
	return nil
}

// Update applies change to us and, when it changed something, writes part of the result. The
// first attempt starts from us as given (the cache: no read before the write). A conflict is
// retried on the live object with change applied anew; so is a refusal by change, once, since
// the cache may lag behind a write the same client just made. On success us holds what was
// written, and written says whether anything was: a change that leaves part as it was writes
// nothing, whatever change reported.
//
// us may be trimmed (see Trim), as the cache holds sessions, so no write sends its metadata: the
// status subresource takes nothing but status from what it is sent, and the spec is written by a
// patch of what changed.
func (s *Store) Update(ctx context.Context, us *v1alpha1.UpdateSession, part Part, change ChangeFunc) (written bool, err error) {
	var base string
	err = s.apply(ctx, us, change, func(ctx context.Context, before, after *v1alpha1.UpdateSession) error {
		if part.same(before, after) {
			written = false
			return nil
		}
		base = before.ResourceVersion
		var perr error
		if part == Status {
			// A PUT that carries before's resourceVersion: the API server refuses it if the
			// session changed since. It costs the API server less than a merge patch (no patch
			// to apply to the stored object; about a fifth less CPU per write in make bench)
			// and us no diff.
			perr = s.client.Status().Update(ctx, after)
		} else {
			// A PUT of the object would replace metadata with the trimmed copy's: a merge patch
			// of the changes, with before's resourceVersion, touches only what changed.
			perr = s.client.Patch(ctx, after, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
		}
		written = perr == nil // the last commit is the one that counts
		// The API server answers with the whole session: trim it, as the cache does, so that
		// the own-writes memory does not keep what the operator never reads.
		Trim(after)
		return perr
	})
	if err != nil {
		return false, err
	}
	if written {
		s.writes.record(us, base, s.clock.Now())
		// The informer may have delivered the write already: then no later event would
		// forget it, so it is forgotten now.
		if cur := s.byID.get(string(us.UID)); cur != nil {
			s.writes.observed(cur)
		}
	}
	return written, nil
}

// same reports whether after holds the same part as before: then there is nothing to write.
func (p Part) same(before, after *v1alpha1.UpdateSession) bool {
	if p == Status {
		return equality.Semantic.DeepEqual(before.Status, after.Status)
	}
	return equality.Semantic.DeepEqual(before.Spec, after.Spec)
}

// Delete deletes us once check allows it, with UID and resourceVersion preconditions: a change
// that raced in makes the delete conflict, and check decides again on the live object.
func (s *Store) Delete(ctx context.Context, us *v1alpha1.UpdateSession, check func(*v1alpha1.UpdateSession) error) error {
	allowed := func(us *v1alpha1.UpdateSession) (bool, error) { return true, check(us) }
	return s.apply(ctx, us, allowed, func(ctx context.Context, before, _ *v1alpha1.UpdateSession) error {
		uid, rv := before.UID, before.ResourceVersion
		return s.client.Delete(ctx, before, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	})
}

// commitFunc writes a changed session; before is what the change started from.
type commitFunc func(ctx context.Context, before, after *v1alpha1.UpdateSession) error

// apply runs change on us and commits the result. When it reads the live object, us becomes
// that, so that a caller refused on it sees what it was refused on.
func (s *Store) apply(ctx context.Context, us *v1alpha1.UpdateSession, change ChangeFunc, commit commitFunc) error {
	id, fresh := us.Status.ID, false
	for attempt := 1; ; attempt++ {
		after := us.DeepCopy()
		changed, err := change(after)
		switch {
		case err != nil && fresh:
			return err
		case err != nil: // refused on a copy that may be stale: decide again on the live one
		case !changed:
			return nil
		default:
			err = commit(ctx, us, after)
			switch {
			case err == nil:
				*us = *after
				return nil
			case apierrors.IsNotFound(err):
				return &NotFoundError{ID: id}
			case !apierrors.IsConflict(err):
				return err
			}
			metrics.WriteConflicts.Inc()
		}
		if attempt == maxWriteAttempts {
			return &BusyError{ID: id}
		}
		live, err := s.Live(ctx, us)
		if err != nil {
			return err
		}
		*us, fresh = *live, true
	}
}

// Live reads the current version of us from the API server; NotFoundError when it is gone or
// was replaced by another object of the same name.
func (s *Store) Live(ctx context.Context, us *v1alpha1.UpdateSession) (*v1alpha1.UpdateSession, error) {
	var fresh v1alpha1.UpdateSession
	err := s.apiReader.Get(ctx, client.ObjectKeyFromObject(us), &fresh)
	if apierrors.IsNotFound(err) || (err == nil && fresh.UID != us.UID) {
		return nil, &NotFoundError{ID: us.Status.ID}
	}
	return &fresh, err
}

// IsNotFound reports whether err says that a session does not exist.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// ValidID reports whether id could be a session id (a UID): anything else is not found
// without a lookup, and never reaches a field selector.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLength {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-'
	}) < 0
}
