package rest

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/types"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/download"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/transfer"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// errDownloadLost stops the downloads of a session that ended (canceled, failed, deleted)
// while they ran: its download URIs no longer hold.
var errDownloadLost = vapi.Errorf(vapi.NotAllowedInCurrentState, msgDownloadNotActive,
	"The download session ended; its download URIs no longer hold.")

const msgDownloadNotActive = "com.vmware.content.library.item.DownloadSession.not_active"

// errFlowIdle ends a flow's progress reports: no download of its session runs any more.
var errFlowIdle = errors.New("no download of the session runs")

// flows are the downloads running on this replica, one flow a session: what makes their
// progress one status write a progress interval at most, however many requests read the
// session's files at once. A flow begins with its first request, which writes the session's
// activity at once (as an upload's claim does: a download begun just before the session's
// deadline keeps it), and ends at the first report that finds it idle: no request running,
// none begun and no byte served since the last report. While it lasts, the requests that join
// it write nothing themselves: a HEAD or a small ranged GET costs no write of its own, and
// counts as activity at the next report.
type flows struct {
	// ctx bounds the flows' reports: stop ends them when the server shuts down.
	ctx  context.Context
	stop context.CancelFunc

	mu        sync.Mutex
	bySession map[types.UID]*flow
}

func newFlows() *flows {
	ctx, stop := context.WithCancel(context.Background())
	return &flows{ctx: ctx, stop: stop, bySession: map[types.UID]*flow{}}
}

// flow is the progress of the downloads of one session on this replica.
type flow struct {
	uid types.UID
	// ready is closed once the first write is done; err is why it failed.
	ready chan struct{}
	err   error
	// moved counts the bytes served; each report compares it with the last report's.
	moved atomic.Int64
	// record is the record of the content version the session reads, once read (see pinned).
	recordMu sync.Mutex
	record   *content.Record

	mu sync.Mutex
	// ds is the session as last written: each write starts from it (one write at a time).
	ds *v1alpha1.DownloadSession
	// furthest is each file's furthest offset served.
	furthest map[string]int64
	// running are the requests in flight, each with how to stop it; begun counts the requests
	// that joined since the last write.
	running map[int]context.CancelCauseFunc
	next    int
	begun   int
}

// join adds a download request of ds, which stop stops should the session end, to the
// session's flow, beginning the flow if there is none; leave takes it out once it is done.
func (fs *flows) join(ctx context.Context, s *Server, ds *v1alpha1.DownloadSession, stop context.CancelCauseFunc) (
	f *flow, leave func(), err error) {
	fs.mu.Lock()
	f, ok := fs.bySession[ds.UID]
	if !ok {
		f = &flow{uid: ds.UID, ready: make(chan struct{}), ds: ds.DeepCopy(), furthest: map[string]int64{},
			running: map[int]context.CancelCauseFunc{}}
		fs.bySession[ds.UID] = f
	}
	f.mu.Lock()
	f.next++
	id := f.next
	f.running[id], f.begun = stop, f.begun+1
	f.mu.Unlock()
	fs.mu.Unlock()
	leave = func() {
		f.mu.Lock()
		delete(f.running, id)
		f.mu.Unlock()
	}
	if !ok {
		fs.begin(ctx, s, f)
	}
	select {
	case <-f.ready:
	case <-ctx.Done():
		leave()
		return nil, nil, context.Cause(ctx)
	}
	if f.err != nil {
		leave()
		return nil, nil, f.err
	}
	return f, leave, nil
}

// begin writes the activity of a new flow and, once it is written, runs its reports; a flow
// whose first write failed is forgotten, and its requests are refused with why.
func (fs *flows) begin(ctx context.Context, s *Server, f *flow) {
	defer close(f.ready)
	if f.err = s.writeFlow(ctx, f); f.err != nil {
		fs.remove(f)
		return
	}
	go s.runFlow(fs, f)
}

// remove forgets f, if it is still its session's flow.
func (fs *flows) remove(f *flow) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.bySession[f.uid] == f {
		delete(fs.bySession, f.uid)
	}
}

// served records that a request of f read n bytes of file name, up to offset.
func (f *flow) served(name string, offset int64, n int) {
	f.moved.Add(int64(n))
	metrics.DownloadBytes.Add(float64(n))
	f.mu.Lock()
	if offset > f.furthest[name] {
		f.furthest[name] = offset
	}
	f.mu.Unlock()
}

// runFlow writes f's progress at most once a progress interval, while bytes flow or requests
// begin, until f is idle; should a write find the session ended, it stops f's requests.
func (s *Server) runFlow(fs *flows, f *flow) {
	progress := transfer.Progress{Clock: s.tickerClock(), Interval: s.Transfers.ProgressInterval,
		Write: func(ctx context.Context, rep transfer.Report) error {
			active, idle := fs.check(f, rep.Moved)
			switch {
			case idle:
				return errFlowIdle
			case !active: // requests run, but stalled: nothing to say
				return nil
			}
			err := s.writeFlow(ctx, f)
			if err != nil && !errors.Is(err, errDownloadLost) {
				s.Log.Error(err, "Writing the progress of downloads; the next report will try again", "session", f.ds.Name)
				return nil
			}
			return err
		}}
	progress.Run(fs.ctx, f.moved.Load, func(cause error) {
		if !errors.Is(cause, errFlowIdle) {
			fs.remove(f)
			f.stopAll(cause)
		}
	})
}

// check says whether f was active since the last write (bytes moved, requests began), and,
// when it was not and no request runs, forgets it: idle. A request that joins after that
// begins a flow of its own.
func (fs *flows) check(f *flow, moved bool) (active, idle bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if active = moved || f.begun > 0; active || len(f.running) > 0 {
		return active, false
	}
	if fs.bySession[f.uid] == f {
		delete(fs.bySession, f.uid)
	}
	return false, true
}

// stopAll stops every request of f with cause.
func (f *flow) stopAll(cause error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, stop := range f.running {
		stop(cause)
	}
}

// writeFlow writes f's progress, which is the client's activity: each file's furthest offset
// served, and the session's lastActivity. A session that ended or is gone is errDownloadLost.
func (s *Server) writeFlow(ctx context.Context, f *flow) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer cancel()
	f.mu.Lock()
	furthest := maps.Clone(f.furthest)
	f.begun = 0
	ds := f.ds.DeepCopy()
	f.mu.Unlock()
	_, err := s.Downloads.Update(ctx, ds, store.Status, func(ds *v1alpha1.DownloadSession) (bool, error) {
		if ds.Status.State != v1alpha1.StateActive {
			return false, errDownloadLost
		}
		download.Served(ds, furthest)
		s.Policy.Touch(ds, s.Clock.Now())
		return true, nil
	})
	switch {
	case errors.Is(err, errDownloadLost) || store.IsNotFound(err):
		return errDownloadLost
	case err != nil:
		return err
	}
	f.mu.Lock()
	f.ds = ds
	f.mu.Unlock()
	return nil
}
