// Package rest serves the vSphere-style update-session REST API on top of UpdateSession objects.
package rest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/admit"
	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/complete"
	"github.com/contentlib/update-session-operator/internal/connwatch"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/login"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/refresh"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// Limits on what a client may send.
const (
	maxBodyBytes = 64 << 10
	// maxHeaderBytes is the header size refused with a JSON error; Go's server itself refuses
	// headers past serverMaxHeaderBytes, with a plain-text 431, before any handler runs.
	maxHeaderBytes       = 16 << 10
	serverMaxHeaderBytes = 64 << 10
	// readTimeout bounds reading a request's headers, from its first byte (a new connection's:
	// from its accept, TLS handshake included), and, apart, reading its body.
	readTimeout = 10 * time.Second
	// answerTimeout bounds a call from its headers read until its answer is written, so that
	// a client that stops reading answers does not hold its connection.
	answerTimeout = 30 * time.Second
	// idleTimeout bounds the wait for the next request on a kept-alive connection.
	idleTimeout = 120 * time.Second
	// requestTimeout bounds the API-server calls of one request, so that a client gets
	// SERVICE_UNAVAILABLE rather than a hang when the API server is unreachable.
	requestTimeout = 10 * time.Second
)

// +kubebuilder:rbac:groups=library.contentlib.dev,resources=updatesessions;downloadsessions,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=library.contentlib.dev,resources=updatesessions/status;downloadsessions/status,verbs=get;update
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Server serves the REST API. It runs on every replica, leader or not: it reads sessions from
// the manager's cache and writes them to the API server with optimistic concurrency.
type Server struct {
	// Addr is the address to listen on, as in net.Listen.
	Addr string
	// Store finds, creates and writes update sessions; Downloads download sessions.
	Store     *store.Updates
	Downloads *store.Downloads
	Clock     clock.PassiveClock
	Policy    session.Policy
	Log       logr.Logger
	// Refresher writes ahead the sessions kept alive without pause (see package refresh); nil:
	// the first keep-alive after a session's window writes it.
	Refresher *refresh.Refresher
	// Gate authenticates and authorizes callers.
	Gate *auth.Gate
	// Logins makes the session ids that login answers, and finds their callers; nil: login
	// answers with the caller's token.
	Logins *login.Store
	// DefaultNamespace is where create and list work for a caller that is not a service
	// account and names no namespace.
	DefaultNamespace string
	// CertDir holds tls.crt and tls.key; empty serves plain HTTP.
	CertDir string
	// Connections caps the connections open at once, in total and per source (remote IP): one
	// past a cap has its request answered SERVICE_UNAVAILABLE and is closed; one past twice a cap
	// is closed at accept. Requests caps the requests in flight at once, in total and per
	// source: one past a cap is answered SERVICE_UNAVAILABLE at once. Zero fields are no cap.
	Connections, Requests admit.Caps
	// ShutdownDelay is how long the server keeps answering, not ready, after shutdown begins
	// and before it closes its listener: the time a Service takes to stop sending it calls.
	ShutdownDelay time.Duration
	// Reads bound the API-server reads each caller's calls cost (see ReadLimits); zero values
	// take DefaultReadLimits.
	Reads ReadLimits
	// Transfers configure the upload endpoint (see serveTransfer).
	Transfers Transfers

	// Content keeps the bytes of sessions' files and items' content records.
	Content *content.Store
	// Completer commits completed sessions' files; nil: one over Store, Content, Policy and
	// Clock.
	Completer *complete.Completer
	// Pull fetches PULL files; nil refuses them UNSUPPORTED.
	Pull Puller
	// MaxFilesPerSession and MaxFileBytes bound what a session's files may be; zero values take
	// the defaults.
	MaxFilesPerSession int
	MaxFileBytes       int64
	// StorageURI is the content store's location as the item storage service shows it, without
	// credentials or parameters; empty shows none.
	StorageURI string

	// inFlight counts the requests in flight, by source.
	inFlight *admit.Counter
	// reads holds each caller's budget of API-server reads.
	reads *readBudgets
	// updateFinder and downloadFinder find sessions by id, each kind within its own bounds of
	// API-server lookups of ids the cache does not have.
	updateFinder   *finder[*v1alpha1.UpdateSession]
	downloadFinder *finder[*v1alpha1.DownloadSession]
	// flows are the downloads running, by session (see serveDownload).
	flows *flows
	// serving is true from when the listener accepts calls until shutdown begins.
	serving atomic.Bool
}

// ReadyCheck is a readiness check: ready while the server accepts calls, not before it listens
// and not once it is shutting down, so that a replica leaves its Service before it stops.
func (s *Server) ReadyCheck(*http.Request) error {
	if !s.serving.Load() {
		return errors.New("the REST server is not serving")
	}
	return nil
}

// NeedLeaderElection is false: every replica answers clients.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx is done, then shuts down gracefully. With CertDir it serves HTTPS and
// reloads the certificate when its files change.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("REST server: %w", err)
	}
	// The connection limits are kept by a watch rather than by the server's own timeouts
	// (ReadTimeout and the like), which cost every request five socket deadlines: see package
	// connwatch. It watches below TLS, so that handshakes count.
	watch := connwatch.New(connwatch.Limits{Request: readTimeout, Answer: answerTimeout, Idle: idleTimeout},
		func(p connwatch.Phase) { metrics.ConnectionsClosed.WithLabelValues(p.String()).Inc() })
	// The caps count below the watch, so that a connection closed at accept is never watched.
	ln = watch.Listener(admit.Listener(ln, s.Connections, refusedConnections.Inc))
	srv := &http.Server{
		Handler:        s.Handler(),
		ConnState:      watch.ConnState,
		ConnContext:    connContext,
		MaxHeaderBytes: serverMaxHeaderBytes,
		// Calls in flight at shutdown finish their API-server calls (bounded by requestTimeout):
		// a keep-alive that was applied is answered, not cut off.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.CertDir == "" {
		s.Log.Info("REST server serves plain HTTP: bearer tokens cross the network in the clear; "+
			"set --rest-cert-dir to serve HTTPS", "address", ln.Addr().String())
	} else {
		tlsListener, err := s.withTLS(ctx, srv, ln)
		if err != nil {
			_ = ln.Close()
			return err
		}
		ln = tlsListener
	}
	// The watch outlives the server's context: calls still answered during shutdown are bounded too.
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatch()
	go watch.Run(watchCtx)
	// The first add or upload should not wait for the key of upload URIs; should it not load
	// now, the first call that needs it tries again.
	go func() {
		keyCtx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		if _, err := s.Transfers.Keys.Key(keyCtx); err != nil {
			s.Log.Error(err, "Loading the key of upload URIs; the first call that needs it tries again")
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.serving.Store(true)
	select {
	case err := <-errc:
		s.serving.Store(false)
		return err
	case <-ctx.Done():
		s.serving.Store(false)
		s.drain(errc)
		// Transfers last as long as their bytes flow: rather than wait for them, they stop and
		// record it, so that their clients can send the files again to another replica at once.
		s.Transfers.Registry.StopAll(errShuttingDown)
		s.flows.stop()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	}
}

// connContext is a connection's context: marked when it was accepted past its caps, carrying
// its source, by which reviews are shared fairly (see auth.WithSource), and its watched
// connection, which a transfer tells that its body still flows (see connwatch.Flowing).
// Stamped once a connection, these cost a kept-alive connection's calls nothing.
func connContext(ctx context.Context, c net.Conn) context.Context {
	ctx = auth.WithSource(admit.ConnContext(ctx, c), admit.Source(c.RemoteAddr()).String())
	return connwatch.WithConn(ctx, c)
}

// withTLS returns ln serving TLS with the certificate in CertDir, reloaded when its files change.
func (s *Server) withTLS(ctx context.Context, srv *http.Server, ln net.Listener) (net.Listener, error) {
	watcher, err := certwatcher.New(filepath.Join(s.CertDir, "tls.crt"), filepath.Join(s.CertDir, "tls.key"))
	if err != nil {
		return nil, fmt.Errorf("REST server certificate: %w", err)
	}
	go func() {
		if err := watcher.Start(ctx); err != nil {
			s.Log.Error(err, "Watching the REST server certificate")
		}
	}()
	srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: watcher.GetCertificate}
	s.Log.Info("REST server listening (HTTPS)", "address", ln.Addr().String(), "certDir", s.CertDir)
	return tls.NewListener(ln, srv.TLSConfig), nil
}

// drain waits out ShutdownDelay while the server still answers: readiness is already false,
// so endpoints drop this replica while calls routed to it meanwhile are still served.
func (s *Server) drain(errc <-chan error) {
	if s.ShutdownDelay <= 0 {
		return
	}
	s.Log.Info("REST server not ready; answering calls until the shutdown delay ends", "delay", s.ShutdownDelay)
	select {
	case <-time.After(s.ShutdownDelay):
	case err := <-errc:
		s.Log.Error(err, "REST server stopped during the shutdown delay")
	}
}

// Handler routes every request within the caps on requests in flight, and the limits of
// API-server reads, through the operation table.
func (s *Server) Handler() http.Handler {
	s.inFlight = admit.NewCounter(s.Requests)
	s.reads = newReadBudgets(s.Reads.Or(DefaultReadLimits))
	s.updateFinder = newFinder(s.Store, s.Clock, notFound)
	s.downloadFinder = newFinder(s.Downloads, s.Clock, downloadNotFound)
	s.flows = newFlows()
	if s.Completer == nil {
		s.Completer = &complete.Completer{Sessions: s.Store, Content: s.Content, Policy: s.Policy, Clock: s.Clock}
	}
	s.Transfers.defaults()
	return http.HandlerFunc(s.serveWithinCaps)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == jsonrpcPath && r.Method == http.MethodPost {
		s.serveJSONRPC(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, TransferPrefix) {
		s.serveTransferEndpoint(w, r)
		return
	}
	start := time.Now()
	f := formFor(r.URL.Path)
	// A call's API-server work is bounded by requestTimeout alone: it is not cut off when its
	// client hangs up, so a keep-alive or create that reached the API server is not left half
	// done (see callContext).
	ctx, cancel := newCallContext(r, requestTimeout)
	defer cancel()
	op, result, err := s.dispatch(ctx, w, r, f)
	if err == nil {
		if log := s.Log.V(1); log.Enabled() { // the hot path: no arguments boxed for nothing
			log.Info("REST call", "operation", op.name, "form", f.name, "path", r.URL.Path)
		}
		f.writeResult(w, op, result)
		op.ok.Observe(time.Since(start))
		return
	}
	verr := f.errorFor(op, opError(op, err))
	s.refuse(w, r, f, verr)
	name := noOperation
	if op != nil {
		name = op.name
	}
	metrics.RESTCallOf(name, string(verr.Type)).Observe(time.Since(start))
}

// dispatch takes a request through authentication, routing, input and authorization, then
// runs its operation.
func (s *Server) dispatch(ctx context.Context, w http.ResponseWriter, r *http.Request, f *form) (*operation, any, error) {
	if err := checkHeaderSize(r); err != nil {
		return nil, nil, err
	}
	caller, cred, err := s.authenticate(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	if cred.Basic {
		s.Log.V(1).Info("REST call with basic auth", "basicUser", cred.User, "caller", caller.GetName())
	}
	query := r.URL.Query() // parsed once: every step below reads it
	if op := fixedOperations[fixedRoute{r.Method, r.URL.Path, query.Get(f.actionParam)}]; op != nil {
		result, err := op.handle(s, ctx, call{caller: caller, token: cred.Token, loggedIn: s.isSessionID(cred)})
		return op, result, err
	}
	if op, t, matched, verr := lookupContent(f, r, query); matched {
		if verr != nil {
			return nil, nil, verr
		}
		c, err := s.newContentCall(ctx, w, r, query, f, op, t, caller)
		if err != nil {
			return op, nil, err
		}
		result, err := op.handle(s, ctx, c)
		return op, result, err
	}
	op, id, verr := lookupOperation(f, r, query)
	if verr != nil {
		return nil, nil, verr
	}
	c, err := s.newCall(ctx, w, r, query, f, op, id, caller)
	if err != nil {
		return op, nil, err
	}
	result, err := op.handle(s, ctx, c)
	return op, result, err
}

// newCall reads the request's input and checks that the caller may run op on its target.
func (s *Server) newCall(ctx context.Context, w http.ResponseWriter, r *http.Request, query url.Values, f *form,
	op *operation, id string, caller *auth.Caller) (call, error) {
	body, err := readBody(w, r)
	if err != nil {
		return call{}, err
	}
	c := call{caller: caller}
	f.headerParams(r, op, query)
	if c.body, c.params, err = f.unwrap(op, body, query); err != nil {
		return call{}, err
	}
	return c, s.target(ctx, &c, op, id, query.Get("namespace"))
}

// target sets the namespace of c, or the session id names, and checks that the caller may run
// op there: on the collection (id empty) in the namespace requested, or the caller's. The id
// names a session of op's resource: a download session (c.download) or an update session
// (c.session).
func (s *Server) target(ctx context.Context, c *call, op *operation, id, requested string) (err error) {
	if op.resource == resourceLibraryItems {
		if err := checkIdentifier(paramLibraryItemID, id, true); err != nil {
			return err
		}
		return s.itemTarget(ctx, c, op, id, requested)
	}
	if id == "" {
		if c.namespace, err = s.callerNamespace(c.caller, requested); err != nil {
			return err
		}
		return s.authorize(ctx, c.caller, op, c.namespace, "")
	}
	caller := c.caller
	mayLookUp := func() bool { return s.mayLookUp(ctx, caller, op) }
	var named v1alpha1.Session
	if op.resource == resourceDownloadSessions {
		c.download, err = s.findDownload(ctx, id, mayLookUp)
		named = c.download
	} else {
		c.session, err = s.find(ctx, id, mayLookUp)
		named = c.session
	}
	if err != nil {
		return err
	}
	c.namespace = named.GetNamespace()
	return s.authorizeSession(ctx, caller, op, id, named)
}

// authorizeSession checks that caller may run op on named, a session of op's resource. A
// caller who may not read it gets the very answer an unknown id gets, so that it learns nothing
// of sessions it cannot see; one who may read it but not run op gets UNAUTHORIZED.
func (s *Server) authorizeSession(ctx context.Context, caller *auth.Caller, op *operation, id string,
	named v1alpha1.Session) error {
	ns, name := named.GetNamespace(), named.GetName()
	err := s.authorize(ctx, caller, op, ns, name)
	var refusal *vapi.Error
	if !errors.As(err, &refusal) || refusal.Type != vapi.Unauthorized {
		return err
	}
	if op.verb != verbGet {
		if readable, _, rerr := s.Gate.AuthorizeResource(ctx, caller, verbGet, op.resource, ns, name); rerr == nil && readable {
			return err
		}
	}
	if op.resource == resourceDownloadSessions {
		return downloadNotFound(id)
	}
	return notFound(id)
}

// refuse answers err. An INTERNAL_SERVER_ERROR is the operator's own failure and is logged as
// an error. Every other refusal is the caller's doing or the API server's and can come
// thousands a second (a token flood, an API server down): it is logged at debug level only,
// and updatesession_rest_requests_total counts it by type.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, f *form, err *vapi.Error) {
	s.logRefusal(r, err)
	f.writeError(w, err)
}

// logRefusal logs a refused call as refuse says, whatever its wire.
func (s *Server) logRefusal(r *http.Request, err *vapi.Error) {
	if err.Type == vapi.InternalServerError {
		s.Log.Error(err, "REST call refused", "method", r.Method, "path", r.URL.Path)
	} else if log := s.Log.V(1); log.Enabled() {
		log.Info("REST call refused", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	}
}

// readBody reads a request's body, up to maxBodyBytes. A request without one (most keep-alives)
// gets no buffer.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 {
		return nil, nil
	}
	// The connection watch bounds reading headers only: a body gets a deadline of its own,
	// which Go's server lifts once the body is read to its end.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(readTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return nil, bodyReadError(err)
	}
	return body, nil
}

func bodyReadError(err error) *vapi.Error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		e := vapi.Errorf(vapi.InvalidRequest, msgInvalidBody,
			"The request body is larger than the limit of %d bytes.", tooLarge.Limit)
		e.Status = http.StatusRequestEntityTooLarge
		return e
	}
	return vapi.Errorf(vapi.InvalidRequest, msgInvalidBody, "The request body could not be read: %v.", err)
}
