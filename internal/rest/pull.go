package rest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/pull"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/transfer"
)

// Pulls is the Puller of a Server: it fetches PULL files on this replica, in the background,
// as a PUSH transfer receives them: within the replica's cap on transfers, under a claim on
// the file, writing progress once an interval, ending READY or ERROR. (The reconciler completes
// a session whose client asked to complete meanwhile once its PULLs have ended, and has the
// fetches that ended with their replica fetched anew.) Its Runnable stops the fetches at
// shutdown, which are handed over to the leader, and waits for them.
type Pulls struct {
	server *Server
	client *pull.Client

	ctx    context.Context
	cancel context.CancelFunc
	// mu orders the start of a fetch (wg.Add) before the shutdown's wait, or after its stop.
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// errStopping is why no PULL starts once shutdown has begun.
var errStopping = errors.New("the server is shutting down")

// NewPulls returns the Puller of s, fetching with client.
func NewPulls(s *Server, client *pull.Client) *Pulls {
	ctx, cancel := context.WithCancel(context.Background())
	return &Pulls{server: s, client: client, ctx: ctx, cancel: cancel}
}

// Runnable is the manager Runnable that stops p's fetches at shutdown.
func (p *Pulls) Runnable() manager.Runnable { return pullsStopper{p} }

// pullsStopper waits until its context is done, then stops the fetches under way and waits
// until they have recorded their end. Every replica runs it.
type pullsStopper struct{ p *Pulls }

func (r pullsStopper) NeedLeaderElection() bool { return false }

func (r pullsStopper) Start(ctx context.Context) error {
	<-ctx.Done()
	r.p.mu.Lock()
	r.p.stopped = true
	r.p.cancel()
	r.p.mu.Unlock()
	r.p.wg.Wait()
	return nil
}

// Probe probes endpoint under the rules of a PULL (see pull.Client.Probe).
func (p *Pulls) Probe(ctx context.Context, endpoint v1alpha1.SourceEndpoint) pull.ProbeResult {
	return p.client.Probe(ctx, pull.Endpoint{URI: endpoint.URI, Thumbprint: endpoint.SSLCertificateThumbprint})
}

// Add records a PULL file with add, which adds f to a session, and claims it for its fetch in
// the same write: no replica can die between the two and leave the file WAITING, which no
// replica would fetch. The fetch then runs in the background; us becomes what was written. A
// replica running as many transfers as it may adds the file ERROR, saying so: the client adds
// it again later. A fetch of a file of that name still running on this replica (removed, then
// added again) is RESOURCE_BUSY, and a replica whose transfers stopped for its shutdown is
// SERVICE_UNAVAILABLE, with nothing written. One whose shutdown begins once the fetch is
// claimed hands it over (see transfer.HandOver): the leader fetches it. An error means the file
// was not added.
func (p *Pulls) Add(ctx context.Context, us *v1alpha1.UpdateSession, f v1alpha1.SessionFile,
	add func(*v1alpha1.UpdateSession) (bool, error)) error {
	s := p.server
	end, err := s.Transfers.Registry.Begin(us.UID, f.Name)
	switch {
	case errors.Is(err, transfer.ErrFull):
		_, err := s.Store.Update(ctx, us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
			if _, err := add(us); err != nil {
				return false, err
			}
			added := session.File(us, f.Name)
			added.Status, added.ErrorMessage = v1alpha1.TransferError, msgPullsFull
			return true, nil
		})
		return err
	case err != nil:
		return registryRefusal(f.Name, err)
	}
	addAndClaim := func(us *v1alpha1.UpdateSession, id string, now time.Time, fresh time.Duration) (metav1.MicroTime, error) {
		if _, err := add(us); err != nil {
			return metav1.MicroTime{}, err
		}
		return transfer.ClaimPull(us, id, now, fresh)
	}
	t, err := s.claim(ctx, us, f.TransferID, addAndClaim)
	if err != nil {
		end()
		return err
	}
	t.us.DeepCopyInto(us)
	p.launch(ctx, t, end)
	return nil
}

// Restart fetches anew the PULL file name of us, whose last fetch ended without an end
// recorded (see transfer.SettleDeadPulls), as Add does a file just added; a file settled
// meanwhile is left as it is (nil). A replica that cannot take the fetch now (as many transfers
// as it may, or shutting down) leaves the file as it is and says so: the reconciler tries again
// later, or the next leader does.
func (p *Pulls) Restart(ctx context.Context, us *v1alpha1.UpdateSession, name string) error {
	if p.stopping() {
		return errStopping
	}
	f := session.File(us, name)
	if f == nil || f.SourceEndpoint == nil {
		return nil // settled meanwhile: removed (a PULL file always has its source endpoint)
	}
	end, err := p.server.Transfers.Registry.Begin(us.UID, name)
	if err != nil {
		return err
	}
	t, err := p.server.claim(ctx, us, f.TransferID, transfer.ClaimRestart)
	if err != nil {
		end()
		if errors.Is(err, transfer.ErrLost) {
			return nil
		}
		return err
	}
	t.us.DeepCopyInto(us)
	p.launch(ctx, t, end)
	return nil
}

// launch runs the fetch t claimed in the background, unless shutdown has begun: then it hands
// the file over at once. end ends the fetch's place among the replica's transfers.
func (p *Pulls) launch(ctx context.Context, t *running, end func()) {
	ep := pull.Endpoint{URI: t.file.SourceEndpoint.URI, Thumbprint: t.file.SourceEndpoint.SSLCertificateThumbprint}
	policy := pull.PolicyFor(t.us.Spec.WarningBehavior)
	p.mu.Lock()
	stopped := p.stopped
	if !stopped {
		p.wg.Add(1)
	}
	p.mu.Unlock()
	if stopped {
		end()
		t.ended(0, p.fail(ctx, t, transfer.NewCounter(strings.NewReader(""), nil), errStopping))
		return
	}
	go func() {
		defer p.wg.Done()
		defer end()
		p.run(t, ep, policy)
	}()
}

// stopping reports whether shutdown has begun: no fetch starts any more.
func (p *Pulls) stopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// msgPullsFull is the errorMessage of a PULL file added past the replica's cap on transfers.
const msgPullsFull = "The server runs as many transfers as it may (--content-max-transfers); remove the file and add " +
	"it again later."

// fetchError is a failure of the source, not of the store: the fetch's, or a declared size
// that cannot be right.
type fetchError struct{ err error }

func (e fetchError) Error() string { return e.err.Error() }
func (e fetchError) Unwrap() error { return e.err }

// run fetches the file t holds into the store and records the end.
func (p *Pulls) run(t *running, ep pull.Endpoint, policy pull.Policy) {
	inFlight := metrics.TransfersInFlight.WithLabelValues(string(v1alpha1.SourcePull))
	inFlight.Inc()
	defer inFlight.Dec()
	got, body, err := p.fetch(t, ep, policy)
	if errors.Is(err, transfer.ErrLost) {
		return // the file was removed or added again, or the session ended: nothing to record
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), requestTimeout)
	defer cancel()
	if err != nil {
		t.ended(body.N(), p.fail(ctx, t, body, err))
		return
	}
	result := metrics.TransferReady
	if p.record(ctx, t, func(us *v1alpha1.UpdateSession) error {
		return transfer.Ready(us, t.file.Name, t.beat, got.Size, got.Checksum.Algorithm, got.Checksum.Value)
	}) != nil {
		result = metrics.TransferLost
	}
	t.ended(body.N(), result)
}

// fetch streams the endpoint's bytes into the store under t's claim; body counts what arrived.
func (p *Pulls) fetch(t *running, ep pull.Endpoint, policy pull.Policy) (content.Received, *transfer.Counter, error) {
	body := transfer.NewCounter(strings.NewReader(""), nil)
	src, size, err := p.client.Fetch(p.ctx, ep, policy)
	if err != nil {
		return content.Received{}, body, fetchError{err}
	}
	defer func() { _ = src.Close() }()
	if err := p.server.checkDeclared(&t.file, size); err != nil {
		return content.Received{}, body, fetchError{err}
	}
	body = transfer.NewCounter(src, nil)
	got, err := p.server.stream(p.ctx, t, body, nil)
	return got, body, err
}

// fail records t's file ERROR, saying why err ended the fetch, or, when the replica is
// stopping, hands it over; it returns the result the transfer metrics count.
func (p *Pulls) fail(ctx context.Context, t *running, body *transfer.Counter, err error) string {
	if p.ctx.Err() != nil || errors.Is(err, errStopping) {
		if p.record(ctx, t, func(us *v1alpha1.UpdateSession) error {
			return transfer.HandOver(us, t.file.Name, t.beat, body.N())
		}) != nil {
			return metrics.TransferLost
		}
		return metrics.TransferStopped
	}
	var why string
	result := metrics.TransferCut
	var fe fetchError
	switch {
	case errors.As(err, &fe):
		_, msg := pull.Classify(fe.err)
		why = fmt.Sprintf("Fetching %s failed: %s.", redacted(t.file.SourceEndpoint.URI), msg)
	default:
		f := p.server.failure(t, body, err)
		why, result = f.why, f.result
	}
	if p.record(ctx, t, func(us *v1alpha1.UpdateSession) error {
		return transfer.Failed(us, t.file.Name, t.beat, body.N(), why)
	}) != nil {
		result = metrics.TransferLost
	}
	return result
}

// record writes the end of t (see Server.endTransfer). A write that fails leaves the file
// TRANSFERRING with a heartbeat that goes stale: the reconciler then has it fetched anew, or
// records it ERROR (see transfer.SettleDeadPulls).
func (p *Pulls) record(ctx context.Context, t *running, end func(us *v1alpha1.UpdateSession) error) error {
	err := p.server.endTransfer(ctx, t, end)
	if err != nil && !errors.Is(err, transfer.ErrLost) && !store.IsNotFound(err) {
		p.server.Log.Error(err, "Recording the end of a PULL transfer", "session", t.us.Name, "file", t.file.Name)
	}
	return err
}

// checkDeclared refuses a source that declares a size other than the one promised, or more
// than a file may hold, before a byte is read.
func (s *Server) checkDeclared(f *v1alpha1.SessionFile, size int64) error {
	switch {
	case size < 0:
		return nil
	case f.Size != nil && size != *f.Size:
		return fmt.Errorf("the source declares %d bytes (Content-Length), not the %d the file was added with", size, *f.Size)
	case s.maxFileBytes() > 0 && size > s.maxFileBytes():
		return fmt.Errorf("the source declares %d bytes (Content-Length), more than the %d a file may hold "+
			"(--content-max-file-bytes)", size, s.maxFileBytes())
	}
	return nil
}

// redacted is uri without the password of its user information, for a message.
func redacted(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	return u.Redacted()
}
