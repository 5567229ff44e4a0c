// Package rest serves the vSphere-style update-session REST API on top of UpdateSession objects.
package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// Limits on what a client may send.
const (
	maxBodyBytes      = 64 << 10
	maxHeaderBytes    = 32 << 10
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	// requestTimeout bounds the API-server calls of one request, so that a client gets
	// SERVICE_UNAVAILABLE rather than a hang when the API server is unreachable.
	requestTimeout = 10 * time.Second
)

// +kubebuilder:rbac:groups=library.contentlib.dev,resources=updatesessions,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=library.contentlib.dev,resources=updatesessions/status,verbs=get;patch

// Server serves the REST API. It runs on every replica, leader or not: it reads sessions from
// the manager's cache and writes them to the API server with optimistic concurrency.
type Server struct {
	// Addr is the address to listen on, as in net.Listen.
	Addr string
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads live objects; it is used to retry a write that conflicted.
	APIReader client.Reader
	Clock     clock.PassiveClock
	Policy    session.Policy
	Log       logr.Logger
	// DefaultNamespace is where create and list work.
	DefaultNamespace string
}

// NeedLeaderElection is false: every replica answers clients.
func (s *Server) NeedLeaderElection() bool { return false }

// Start serves until ctx is done, then shuts down gracefully.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("REST server: %w", err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.Log.Info("REST server listening", "address", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	}
}

// Handler routes every request through the operation table.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	f := formFor(r.URL.Path)
	op, id, verr := lookupOperation(f, r)
	if verr != nil {
		s.refuse(w, r, f, verr)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		s.refuse(w, r, f, bodyReadError(err))
		return
	}
	flat, params, err := f.unwrap(op, body, r.URL.Query())
	if err != nil {
		s.refuse(w, r, f, asVAPI(err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	c := call{namespace: s.DefaultNamespace, body: flat, params: params}
	if id != "" {
		if c.session, err = s.find(ctx, id); err != nil {
			s.refuse(w, r, f, asVAPI(err))
			return
		}
	}
	result, err := op.handle(s, ctx, c)
	if err != nil {
		s.refuse(w, r, f, asVAPI(err))
		return
	}
	s.Log.V(1).Info("REST call", "operation", op.name, "form", f.name, "id", id)
	f.writeResult(w, op.status, result)
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, f *form, err *vapi.Error) {
	log := s.Log.V(1)
	if err.Type == vapi.InternalServerError {
		log = s.Log
	}
	log.Info("REST call refused", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	f.writeError(w, err)
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
