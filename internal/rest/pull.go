package rest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/pull"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/transfer"
)

// Pulls is the Puller of a Server: it fetches PULL files on this replica, in the background,
// as a PUSH transfer receives them: within the replica's cap on transfers, under a claim on
// the file, writing progress once an interval, ending READY or ERROR. (The reconciler completes
// a session whose client asked to complete meanwhile once its PULLs have ended.) It is a manager
// Runnable (see Runnable): at shutdown it stops its fetches, which end in ERROR, and waits for
// them.
type Pulls struct {
	server *Server
	client *pull.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

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
	r.p.cancel()
	r.p.wg.Wait()
	return nil
}

// Probe probes endpoint under the rules of a PULL (see pull.Client.Probe).
func (p *Pulls) Probe(ctx context.Context, endpoint v1alpha1.SourceEndpoint) ProbeResult {
	res := p.client.Probe(ctx, pull.Endpoint{URI: endpoint.URI, Thumbprint: endpoint.SSLCertificateThumbprint})
	return ProbeResult{Status: string(res.Status), SSLThumbprint: res.SSLThumbprint, ErrorMessages: res.ErrorMessages}
}

// Start claims the PULL file name of us (TRANSFERRING) and fetches it in the background; us is
// changed to what the claim wrote. A replica running as many transfers as it may records the
// file ERROR at once, saying so: the client adds it again later.
func (p *Pulls) Start(ctx context.Context, us *v1alpha1.UpdateSession, name string) error {
	s := p.server
	f := session.File(us, name)
	if f == nil || f.SourceEndpoint == nil {
		return fmt.Errorf("PULL file %q of update session %s has no source endpoint", name, us.Status.ID)
	}
	end, err := s.Transfers.Registry.Begin(us.UID, name)
	if err != nil {
		return p.refuse(ctx, us, f.TransferID, err)
	}
	t, err := s.claim(ctx, us, f.TransferID, transfer.ClaimPull)
	if err != nil {
		end()
		return err
	}
	t.us.DeepCopyInto(us)
	ep := pull.Endpoint{URI: f.SourceEndpoint.URI, Thumbprint: f.SourceEndpoint.SSLCertificateThumbprint}
	policy := pull.PolicyFor(us.Spec.WarningBehavior)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer end()
		p.run(t, ep, policy)
	}()
	return nil
}

// refuse records the file with transfer id tid ERROR, as no transfer could start: why is
// transfer.ErrFull or transfer.ErrBusy.
func (p *Pulls) refuse(ctx context.Context, us *v1alpha1.UpdateSession, tid string, why error) error {
	msg := "The server runs as many transfers as it may (--content-max-transfers); remove the file and add it again later."
	if errors.Is(why, transfer.ErrBusy) {
		msg = "A transfer into the file is still under way on this server; remove the file and add it again later."
	}
	_, err := p.server.Store.Update(ctx, us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		f := transfer.FileByID(us, tid)
		if f == nil || f.Status != v1alpha1.TransferWaiting {
			return false, nil
		}
		f.Status, f.ErrorMessage = v1alpha1.TransferError, msg
		return true, nil
	})
	return err
}

// run fetches the file t holds, streams it into the store and records the end.
func (p *Pulls) run(t *running, ep pull.Endpoint, policy pull.Policy) {
	s := p.server
	body := transfer.NewCounter(strings.NewReader(""), nil)
	var got content.Received
	var why string
	src, size, err := p.client.Fetch(p.ctx, ep, policy)
	if err != nil {
		_, msg := pull.Classify(err)
		why = fmt.Sprintf("Fetching %s failed: %s.", redacted(ep.URI), msg)
	} else {
		if err = s.checkDeclared(&t.file, size); err == nil {
			body = transfer.NewCounter(src, nil)
			got, err = s.stream(p.ctx, t, body)
		}
		_ = src.Close()
		if errors.Is(err, transfer.ErrLost) {
			return // the file was removed or added again, or the session ended: nothing to record
		}
		if err != nil {
			why, _ = s.failure(t, body, err)
		}
	}
	if err != nil && p.ctx.Err() != nil {
		why = "The server stopped while it fetched the file; remove it and add it again."
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), requestTimeout)
	defer cancel()
	end := func(us *v1alpha1.UpdateSession) error {
		return transfer.Ready(us, t.file.Name, t.beat, got.Size, got.Checksum.Algorithm, got.Checksum.Value)
	}
	if err != nil {
		end = func(us *v1alpha1.UpdateSession) error {
			return transfer.Failed(us, t.file.Name, t.beat, body.N(), why)
		}
	}
	if err := s.endTransfer(ctx, t, end); err != nil && !errors.Is(err, transfer.ErrLost) && !store.IsNotFound(err) {
		// The heartbeat goes stale: the reconciler records the file ERROR (see transfer.EndDeadPulls).
		s.Log.Error(err, "Recording the end of a PULL transfer", "session", t.us.Name, "file", t.file.Name)
	}
}

// checkDeclared refuses a source that declares a size other than the one promised, or more
// than a file may hold, before a byte is read.
func (s *Server) checkDeclared(f *v1alpha1.SessionFile, size int64) error {
	switch {
	case size < 0:
		return nil
	case f.Size != nil && size != *f.Size:
		return &content.MismatchError{What: "size", Want: fmt.Sprint(*f.Size), Got: fmt.Sprint(size)}
	case s.Transfers.MaxFileBytes > 0 && size > s.Transfers.MaxFileBytes:
		return content.ErrTooLarge
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
