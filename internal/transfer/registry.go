package transfer

import (
	"context"
	"errors"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Errors of Registry.Begin.
var (
	// ErrBusy: a transfer into the same file runs on this replica.
	ErrBusy = errors.New("a transfer into the file is under way")
	// ErrFull: this replica runs as many transfers as it may.
	ErrFull = errors.New("the server runs as many transfers as it may")
	// ErrStopping: this replica stopped its transfers (StopAll) and takes no new one.
	ErrStopping = errors.New("the server is shutting down")
)

// Registry holds the transfers in flight on this replica: at most Max at once, and one upload
// per file, while any number may read one file. It refuses at once, before the session's
// status is read or written: the status claim (see Claim) is what refuses a second upload that
// another replica runs.
type Registry struct {
	max int

	mu sync.Mutex
	// running holds every transfer in flight, each with how StopAll stops it (nil: it does
	// not); exclusive those that hold their file alone, by file.
	running   map[*slot]context.CancelCauseFunc
	exclusive map[fileRef]*slot
	stopped   bool
}

// slot is one transfer in flight: its file, which also makes each slot a distinct pointer.
type slot struct{ ref fileRef }

type fileRef struct {
	session types.UID
	name    string
}

// NewRegistry returns a Registry of at most maxTransfers transfers at once (no cap when not
// positive).
func NewRegistry(maxTransfers int) *Registry {
	return &Registry{max: maxTransfers, running: map[*slot]context.CancelCauseFunc{}, exclusive: map[fileRef]*slot{}}
}

// Begin registers a transfer into file name of session, or refuses it with ErrBusy or ErrFull.
// end unregisters it; call it once the transfer is over.
func (r *Registry) Begin(session types.UID, name string) (end func(), err error) {
	return r.BeginStoppable(session, name, nil)
}

// BeginStoppable is Begin for a transfer that StopAll stops with cancel (nil: one it does not).
func (r *Registry) BeginStoppable(session types.UID, name string, cancel context.CancelCauseFunc) (end func(), err error) {
	return r.begin(session, name, true, cancel)
}

// BeginShared is BeginStoppable for a transfer that reads file name of session: it counts
// against the cap, but any number of them may run on one file.
func (r *Registry) BeginShared(session types.UID, name string, cancel context.CancelCauseFunc) (end func(), err error) {
	return r.begin(session, name, false, cancel)
}

func (r *Registry) begin(session types.UID, name string, exclusive bool, cancel context.CancelCauseFunc) (func(), error) {
	ref := fileRef{session, name}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil, ErrStopping
	}
	if _, ok := r.exclusive[ref]; ok && exclusive {
		return nil, ErrBusy
	}
	if r.max > 0 && len(r.running) >= r.max {
		return nil, ErrFull
	}
	s := &slot{ref}
	r.running[s] = cancel
	if exclusive {
		r.exclusive[ref] = s
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			delete(r.running, s)
			if r.exclusive[s.ref] == s {
				delete(r.exclusive, s.ref)
			}
			r.mu.Unlock()
		})
	}, nil
}

// StopAll cancels every transfer in flight with cause, and refuses new ones with ErrStopping:
// the server is shutting down, and each transfer records its file's end rather than leave it
// TRANSFERRING until its heartbeat goes stale.
func (r *Registry) StopAll(cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for _, cancel := range r.running {
		if cancel != nil {
			cancel(cause)
		}
	}
}

// Running is how many transfers are in flight.
func (r *Registry) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}
