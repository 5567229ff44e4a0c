package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/connwatch"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/transfer"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

const (
	msgBadCapability  = "com.vmware.vapi.std.security.unauthenticated"
	msgTransferFailed = "com.vmware.content.library.item.updatesession.File.transfer_failed"
	msgNoStore        = "com.vmware.content.library.item.updatesession.File.no_store"
)

// Transfers configure the upload endpoint.
type Transfers struct {
	// Keys make and check the capabilities of upload URIs; nil: a random key of this
	// replica's own (transfer.MemoryKeys).
	Keys *transfer.Keys
	// Registry holds the transfers in flight on this replica, and caps them; nil:
	// DefaultMaxTransfers.
	Registry *transfer.Registry
	// ProgressInterval is how often a running transfer writes its progress; zero:
	// DefaultProgressInterval.
	ProgressInterval time.Duration
	// AdvertiseURL, when set, is the scheme and host (and path prefix) upload URIs start with;
	// else they start with those of the request that added the file.
	AdvertiseURL string
}

// The defaults of Transfers' zero fields.
const (
	DefaultMaxTransfers     = 64
	DefaultProgressInterval = 5 * time.Second
)

// defaults fills t's zero fields.
func (t *Transfers) defaults() {
	if t.Keys == nil {
		t.Keys = transfer.MemoryKeys()
	}
	if t.Registry == nil {
		t.Registry = transfer.NewRegistry(DefaultMaxTransfers)
	}
	if t.ProgressInterval <= 0 {
		t.ProgressInterval = DefaultProgressInterval
	}
}

// errShuttingDown is why the transfers in flight stop when the server shuts down.
var errShuttingDown = errors.New("the server is shutting down")

// transferOp is the upload endpoint as its metrics and authorization name it: with the
// caller's credentials instead of a capability it needs what keep-alive needs.
var transferOp = newEndpointOp("transfer", verbUpdate, "")

// uploads is the upload endpoint as authorizeEndpoint sees it.
func (s *Server) uploads() endpoint[*v1alpha1.UpdateSession] {
	return endpoint[*v1alpha1.UpdateSession]{
		sessions: s.updateFinder,
		op:       transferOp,
		file: func(us *v1alpha1.UpdateSession, tid string) (string, bool) {
			if f := transfer.FileByID(us, tid); f != nil {
				return f.Name, true
			}
			return "", false
		},
		noFile: transfer.NoSuchFile,
		invalid: "The upload URI is not valid: it names no file of a live session, or its capability is wrong. " +
			"Use the upload_endpoint the file's add answered, or send your credentials.",
	}
}

// TransferURI is the transfer endpoint of file name (added or prepared with transfer id id)
// of a session of either kind: /transfer/{session id}/{transfer id}/{capability} on the REST
// listener, at AdvertiseURL when set, else at origin, the scheme and Host the client that asked
// reached this server at. The capability binds the URI to this file of this session and this
// add or prepare: an update session's upload endpoint, a download session's download endpoint.
func (s *Server) TransferURI(ctx context.Context, origin string, us v1alpha1.Session, name, id string) (string, error) {
	key, err := s.Transfers.Keys.Key(ctx)
	if err != nil {
		return "", keyUnavailable(err)
	}
	if s.Transfers.AdvertiseURL != "" {
		origin = strings.TrimRight(s.Transfers.AdvertiseURL, "/")
	}
	uid := us.GetUID()
	return origin + TransferPrefix + string(uid) + "/" + id + "/" + transfer.Capability(key, uid, name, id), nil
}

func keyUnavailable(err error) *vapi.Error {
	e := vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "Cannot make or check transfer URIs now: %v.", err)
	e.RetryAfter = retryAfter
	return e
}

// serveTransfer receives the bytes of one file: PUT (govmomi) or POST (VMware's samples), with
// Content-Length or chunked. It answers 200 once every byte arrived and matched what the file's
// add promised; the file is then READY.
func (s *Server) serveTransfer(w http.ResponseWriter, r *http.Request) {
	s.serveEndpoint(w, r, transferOp, func() error {
		if err := s.transfer(w, r); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
}

// transfer authorizes a transfer, claims its file and streams the body into the store.
func (s *Server) transfer(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		e := vapi.Errorf(vapi.InvalidRequest, msgMethodNotAllowed,
			"Method %s is not allowed here; use PUT or POST to upload, GET or HEAD to download.", r.Method)
		e.Status = http.StatusMethodNotAllowed
		return e
	}
	sid, tid, capability, err := s.endpointRequest(r)
	if err != nil {
		return err
	}
	ctx, cancel := newCallContext(r, requestTimeout)
	defer cancel()
	us, _, err := authorizeEndpoint(ctx, s, r, s.uploads(), sid, tid, capability)
	if err != nil {
		return err
	}
	file := transfer.FileByID(us, tid)
	if err := s.checkLength(r, file); err != nil {
		return err
	}
	body, stop := context.WithCancelCause(r.Context())
	defer stop(nil)
	end, err := s.beginTransfer(us, file.Name, false, stop)
	if err != nil {
		return err
	}
	defer end()
	inFlight := metrics.TransfersInFlight.WithLabelValues(string(v1alpha1.SourcePush))
	inFlight.Inc()
	defer inFlight.Dec()
	t, err := s.claim(ctx, us, tid, transfer.Claim)
	if err != nil {
		return err
	}
	return s.receive(body, w, r, t)
}

// checkLength refuses at once a body whose Content-Length is not the size promised, or more
// than a file may hold: nothing is read, and the file stays as it was.
func (s *Server) checkLength(r *http.Request, f *v1alpha1.SessionFile) error {
	switch n := r.ContentLength; {
	case n < 0:
		return nil
	case f.Size != nil && n != *f.Size:
		return vapi.Errorf(vapi.InvalidArgument, msgTransferFailed,
			"The request body has %d bytes (Content-Length), not the %d that file %q was added with.", n, *f.Size, f.Name)
	case s.maxFileBytes() > 0 && n > s.maxFileBytes():
		return tooLarge(f.Name, s.maxFileBytes())
	}
	return nil
}

func tooLarge(name string, limit int64) *vapi.Error {
	e := vapi.Errorf(vapi.InvalidArgument, msgTransferFailed,
		"File %q would be larger than the %d bytes a file may hold (--content-max-file-bytes).", name, limit)
	e.Status = http.StatusRequestEntityTooLarge
	return e
}

// running is a transfer that holds its file: the session as last written, and the heartbeat
// that identifies the claim.
type running struct {
	us   *v1alpha1.UpdateSession
	file v1alpha1.SessionFile
	beat metav1.MicroTime
	// counted is how many of its bytes the transfer metrics have counted.
	counted int64
}

// count adds to the transfer metrics the bytes received since the last count.
func (t *running) count(n int64) {
	if n > t.counted {
		metrics.TransferBytes.WithLabelValues(string(t.file.SourceType)).Add(float64(n - t.counted))
		t.counted = n
	}
}

// ended counts the end of the transfer, with result (one of metrics' Transfer* results).
func (t *running) ended(n int64, result string) {
	t.count(n)
	metrics.Transfers.WithLabelValues(string(t.file.SourceType), result).Inc()
}

// claimFunc claims a file for a transfer: transfer.Claim, ClaimPull or ClaimRestart.
type claimFunc func(us *v1alpha1.UpdateSession, id string, now time.Time, fresh time.Duration) (metav1.MicroTime, error)

// claim claims the file with transfer id tid for this transfer (see transfer.Claim); the claim
// counts as the client's activity.
func (s *Server) claim(ctx context.Context, cached *v1alpha1.UpdateSession, tid string, how claimFunc) (*running, error) {
	t := &running{us: cached.DeepCopy()}
	_, err := s.Store.Update(ctx, t.us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		now := s.Clock.Now()
		beat, err := how(us, tid, now, transfer.BusyAfter*s.Transfers.ProgressInterval)
		if err != nil {
			return false, err
		}
		t.beat, t.file = beat, *transfer.FileByID(us, tid).DeepCopy()
		s.Policy.Touch(us, now)
		return true, nil
	})
	return t, err
}

// receive streams the body into the store, writing progress meanwhile, and records the end:
// READY with the size and checksum received, or ERROR with why and the bytes that did arrive.
func (s *Server) receive(ctx context.Context, w http.ResponseWriter, r *http.Request, t *running) error {
	body := transfer.NewCounter(r.Body, connwatch.Flowing(r.Context()))
	// A read of the body waits for the client whatever ctx says: a transfer stopped (its claim
	// lost, the server shutting down) ends its read at once.
	got, err := s.stream(ctx, t, body, func() { _ = http.NewResponseController(w).SetReadDeadline(time.Now()) })
	if errors.Is(err, transfer.ErrLost) {
		return err
	}
	ctx, cancel := newCallContext(r, requestTimeout)
	defer cancel()
	return s.finishTransfer(ctx, t, body, got, err)
}

// stream copies body into the store under t's claim, writing progress meanwhile: what a PUSH
// and a PULL transfer share. It fails with transfer.ErrLost when a progress write found the
// claim lost, which stops the copy, and with errShuttingDown when the server stopped it;
// interrupt, if not nil, is called then to end a read that would not notice.
func (s *Server) stream(ctx context.Context, t *running, body *transfer.Counter, interrupt func()) (content.Received, error) {
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	if interrupt != nil {
		defer context.AfterFunc(ctx, interrupt)()
	}
	progress := transfer.Progress{Clock: s.tickerClock(), Interval: s.Transfers.ProgressInterval,
		Write: func(ctx context.Context, rep transfer.Report) error { return s.beat(ctx, t, rep) }}
	stop := progress.Start(ctx, body.N, abort)
	us := t.us
	got, err := s.Content.Put(ctx, content.FileKey(us.Namespace, us.Spec.LibraryItemID, us.UID, t.file.Name),
		body, s.expect(&t.file))
	stop()
	cause := context.Cause(ctx)
	if err != nil && errors.Is(cause, transfer.ErrLost) {
		t.ended(body.N(), metrics.TransferLost)
		return got, transfer.ErrLost
	}
	if err != nil && errors.Is(cause, errShuttingDown) {
		err = errShuttingDown
	}
	return got, err
}

// tickerClock is the server's clock if it has tickers (a fake clock in tests), else the real one.
func (s *Server) tickerClock() clock.WithTicker {
	if c, ok := s.Clock.(clock.WithTicker); ok {
		return c
	}
	return clock.RealClock{}
}

// expect is what the bytes of f are held to: its promised size and checksum, and the bound on
// a file.
func (s *Server) expect(f *v1alpha1.SessionFile) content.Expect {
	want := content.Expect{MaxBytes: s.maxFileBytes()}
	if f.Size != nil {
		want.Size, want.SizeKnown = *f.Size, true
	}
	if f.Checksum != nil {
		want.Checksum = content.Checksum{Algorithm: string(f.Checksum.Algorithm), Value: f.Checksum.Checksum}
	}
	return want
}

// beat writes one progress report of t: bytes transferred and a new heartbeat, and, when bytes
// moved, the session's activity. A write that fails for passing trouble is logged and skipped;
// one refused because the claim was lost ends the transfer.
func (s *Server) beat(ctx context.Context, t *running, rep transfer.Report) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer cancel()
	var next metav1.MicroTime
	_, err := s.Store.Update(ctx, t.us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		now := s.Clock.Now()
		b, err := transfer.Beat(us, t.file.Name, t.beat, rep.Bytes, now)
		if err != nil {
			return false, err
		}
		next = b
		if rep.Moved {
			s.Policy.Touch(us, now)
		}
		return true, nil
	})
	switch {
	case errors.Is(err, transfer.ErrLost) || store.IsNotFound(err):
		return transfer.ErrLost
	case err != nil:
		s.Log.Error(err, "Writing a transfer's progress; the next report will try again", "session", t.us.Name, "file", t.file.Name)
		return nil
	}
	t.beat = next
	t.count(rep.Bytes)
	return nil
}

// finishTransfer records how the transfer ended and returns its answer.
func (s *Server) finishTransfer(ctx context.Context, t *running, body *transfer.Counter, got content.Received, putErr error) error {
	var end func(us *v1alpha1.UpdateSession) error
	var answer error
	result := metrics.TransferReady
	if putErr == nil {
		end = func(us *v1alpha1.UpdateSession) error {
			return transfer.Ready(us, t.file.Name, t.beat, got.Size, got.Checksum.Algorithm, got.Checksum.Value)
		}
	} else {
		f := s.failure(t, body, putErr)
		answer, result = f.answer, f.result
		end = func(us *v1alpha1.UpdateSession) error {
			return transfer.Failed(us, t.file.Name, t.beat, body.N(), f.why)
		}
	}
	err := s.endTransfer(ctx, t, end)
	if errors.Is(err, transfer.ErrLost) {
		result = metrics.TransferLost
	}
	t.ended(body.N(), result)
	if log := s.Log.V(1); log.Enabled() {
		log.Info("Transfer ended", "session", t.us.Name, "file", t.file.Name, "bytes", body.N(), "result", result)
	}
	if err != nil {
		return err // READY not recorded: the client is not told it succeeded
	}
	return answer
}

// endTransfer records how the transfer t ended, as end writes it (transfer.Ready or
// transfer.Failed), and counts it as the session's activity.
func (s *Server) endTransfer(ctx context.Context, t *running, end func(us *v1alpha1.UpdateSession) error) error {
	_, err := s.Store.Update(ctx, t.us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		if err := end(us); err != nil {
			return false, err
		}
		s.Policy.Touch(us, s.Clock.Now())
		return true, nil
	})
	return err
}

// failed is how a transfer failed: why, for the file's errorMessage; what the client is
// answered; the result the transfer metrics count.
type failed struct {
	why    string
	answer *vapi.Error
	result string
}

// failure says how a transfer whose Put returned err failed.
func (s *Server) failure(t *running, body *transfer.Counter, err error) failed {
	var mismatch *content.MismatchError
	switch {
	case errors.Is(err, errShuttingDown):
		why := fmt.Sprintf("The server stopped after %d bytes, as a replica does in a rolling update. "+
			"Send the file again to the same upload URI.", body.N())
		e := vapi.Errorf(vapi.ServiceUnavailable, msgTransferFailed, "%s", why)
		e.RetryAfter = retryAfter
		return failed{why, e, metrics.TransferStopped}
	case body.Err() != nil && t.file.SourceType == v1alpha1.SourcePull:
		why := fmt.Sprintf("Fetching the file was cut after %d bytes: %v. Add the file again to fetch it anew.",
			body.N(), body.Err())
		return failed{why, vapi.Errorf(vapi.InvalidRequest, msgTransferFailed, "%s", why), metrics.TransferCut}
	case body.Err() != nil:
		why := fmt.Sprintf("The transfer was cut after %d bytes: %v. Send the file again to the same upload URI.",
			body.N(), body.Err())
		return failed{why, vapi.Errorf(vapi.InvalidRequest, msgTransferFailed, "%s", why), metrics.TransferCut}
	case errors.As(err, &mismatch):
		why := fmt.Sprintf("The %s of the bytes received is %s, not the %s promised when the file was added.",
			mismatch.What, mismatch.Got, mismatch.Want)
		return failed{why, vapi.Errorf(vapi.InvalidArgument, msgTransferFailed, "%s", why), metrics.TransferMismatch}
	case errors.Is(err, content.ErrTooLarge):
		e := tooLarge(t.file.Name, s.maxFileBytes())
		return failed{e.Messages[0].DefaultMessage, e, metrics.TransferTooLarge}
	case errors.Is(err, content.ErrNoSpace):
		why := fmt.Sprintf("The content store is out of space; nothing of the file was kept: %v.", err)
		e := vapi.Errorf(vapi.ServiceUnavailable, msgTransferFailed, "%s", why)
		e.Status = http.StatusInsufficientStorage
		return failed{why, e, metrics.TransferNoSpace}
	}
	s.Log.Error(err, "Storing a file's bytes", "session", t.us.Name, "file", t.file.Name)
	why := fmt.Sprintf("The content store failed; nothing of the file was kept: %v.", err)
	return failed{why, vapi.Errorf(vapi.ServiceUnavailable, msgTransferFailed, "%s", why), metrics.TransferStore}
}
