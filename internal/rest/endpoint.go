package rest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/transfer"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// TransferPrefix is the path prefix of the transfer endpoints: /transfer/{session id}/{transfer
// id}/{capability}. PUT and POST there upload a file of an update session (see serveTransfer),
// GET and HEAD download a file of a download session (see serveDownload). They are not vAPI
// operations (bytes cross there, not JSON), but their errors are vAPI errors in the /api form.
const TransferPrefix = "/transfer/"

// serveTransferEndpoint routes a request of the transfer endpoints by its method: uploads
// refuse the methods neither direction takes.
func (s *Server) serveTransferEndpoint(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		s.serveDownload(w, r)
		return
	}
	s.serveTransfer(w, r)
}

// serveEndpoint serves a request of op's transfer endpoint with serve, which writes the answer
// of a success; an error it returns is answered here. Either way the call is counted.
func (s *Server) serveEndpoint(w http.ResponseWriter, r *http.Request, op *operation, serve func() error) {
	start := time.Now()
	err := serve()
	var cut *answerCut
	switch {
	case err == nil:
		op.ok.Observe(time.Since(start))
		return
	case errors.As(err, &cut):
		metrics.RESTCallOf(op.name, string(cut.typ)).Observe(time.Since(start))
		return
	}
	verr := opError(op, err)
	if verr.Status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "GET, HEAD, POST, PUT")
	}
	s.refuse(w, r, apiForm, verr)
	metrics.RESTCallOf(op.name, string(verr.Type)).Observe(time.Since(start))
}

// answerCut is the error of a call that failed once its answer had begun (a download cut
// mid-body): there is no answer left to give, but the call counts as one of typ, as the
// answer of a call failed the same way before its end would be (an upload cut).
type answerCut struct {
	typ vapi.ErrorType
	err error
}

func (e *answerCut) Error() string { return "the answer was cut short: " + e.err.Error() }

func (e *answerCut) Unwrap() error { return e.err }

// endpointRequest checks what every request of the transfer endpoints needs, and returns the
// session id, transfer id and capability its path names.
func (s *Server) endpointRequest(r *http.Request) (sid, tid, capability string, err error) {
	sid, tid, capability, ok := parseTransferPath(r.URL.Path)
	if !ok {
		return "", "", "", vapi.Errorf(vapi.OperationNotFound, msgOperationNotFound, "No operation is served at %s.", r.URL.Path)
	}
	if s.Content == nil {
		return "", "", "", vapi.Errorf(vapi.ServiceUnavailable, msgNoStore, "The server has no content store.")
	}
	return sid, tid, capability, checkHeaderSize(r)
}

// parseTransferPath splits /transfer/{session}/{transfer}/{capability}.
func parseTransferPath(path string) (sid, tid, capability string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(path, TransferPrefix), "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// endpoint is one direction of the transfer endpoints as authorizing a request sees it: the
// sessions of its kind, the file a transfer id names, and the operation the caller's
// credentials must allow when the URI's capability does not.
type endpoint[S v1alpha1.Session] struct {
	sessions *finder[S]
	op       *operation
	// file returns the name of the file of ss with transfer id tid; false if none has it.
	file func(ss S, tid string) (string, bool)
	// noFile is the refusal of a transfer id that names no file of ss, to a caller who may
	// see ss.
	noFile func(ss S) error
	// invalid says what is wrong with a URI that has neither a valid capability nor credentials.
	invalid string
}

// newEndpointOp returns the operation of a transfer endpoint, as its metrics and authorization
// name it, with its series made from the start, as the operations' are.
func newEndpointOp(name, verb, resource string) *operation {
	op := &operation{name: name, verb: verb, resource: resource, ok: metrics.RESTCallOf(name, "ok")}
	for _, t := range vapi.ErrorTypes {
		metrics.RESTRequests.WithLabelValues(name, string(t))
	}
	return op
}

// authorizeEndpoint finds the session and file a request of e is for and checks that the caller
// may make it: by the capability in the URI, else by the caller's usual credentials, as
// keep-alive checks them. A caller with neither learns nothing of the session: an unknown
// session, an unknown file and a wrong capability get the same answer.
func authorizeEndpoint[S v1alpha1.Session](ctx context.Context, s *Server, r *http.Request, e endpoint[S],
	sid, tid, capability string) (S, string, error) {
	var none S
	if ss, err := e.sessions.find(ctx, sid, func() bool { return false }); err == nil {
		ss, name, ok, err := fileIn(ctx, e, ss, tid)
		if err != nil {
			return none, "", err
		}
		if ok {
			key, err := s.Transfers.Keys.Key(ctx)
			if err != nil {
				return none, "", keyUnavailable(err)
			}
			if transfer.Valid(key, ss.GetUID(), name, tid, capability) {
				return ss, name, nil
			}
		}
	}
	if _, err := auth.Credentials(r); errors.Is(err, auth.ErrNoCredentials) {
		return none, "", vapi.Errorf(vapi.Unauthenticated, msgBadCapability, "%s", e.invalid)
	}
	return authorizeEndpointCaller(ctx, s, r, e, sid, tid)
}

// authorizeEndpointCaller authorizes a request of e by the caller's credentials.
func authorizeEndpointCaller[S v1alpha1.Session](ctx context.Context, s *Server, r *http.Request, e endpoint[S],
	sid, tid string) (S, string, error) {
	var none S
	caller, _, err := s.authenticate(ctx, r)
	if err != nil {
		return none, "", err
	}
	ss, err := e.sessions.find(ctx, sid, func() bool { return s.mayLookUp(ctx, caller, e.op) })
	if err != nil {
		return none, "", err
	}
	if err := s.authorizeSession(ctx, caller, e.op, sid, ss); err != nil {
		return none, "", err
	}
	ss, name, ok, err := fileIn(ctx, e, ss, tid)
	if err == nil && !ok {
		err = e.noFile(ss)
	}
	return ss, name, err
}

// fileIn returns the name of the file of ss with transfer id tid. A cache behind the replica
// that added or prepared the file does not have it yet: then the live session is read, within
// the lookups' rate.
func fileIn[S v1alpha1.Session](ctx context.Context, e endpoint[S], ss S, tid string) (S, string, bool, error) {
	if name, ok := e.file(ss, tid); ok || !e.sessions.lookups.rate.Allow() {
		return ss, name, ok, nil
	}
	live, err := e.sessions.store.Live(ctx, ss)
	if err != nil {
		return live, "", false, err
	}
	name, ok := e.file(live, tid)
	return live, name, ok, nil
}

// beginTransfer registers a transfer of file name of session on this replica, shared (one of
// many reading the file) or not; stop is how a shutdown stops it. It refuses at once past the
// replica's cap on transfers, before the session is written.
func (s *Server) beginTransfer(session v1alpha1.Session, name string, shared bool, stop context.CancelCauseFunc) (
	func(), error) {
	begin := s.Transfers.Registry.BeginStoppable
	if shared {
		begin = s.Transfers.Registry.BeginShared
	}
	end, err := begin(session.GetUID(), name, stop)
	if err != nil {
		return nil, registryRefusal(name, err)
	}
	return end, nil
}

// registryRefusal is the error of a transfer into file name that the replica's registry of
// transfers refused with err: RESOURCE_BUSY while another runs into the file, else (past the
// cap, or shutting down) SERVICE_UNAVAILABLE with Retry-After.
func registryRefusal(name string, err error) error {
	switch {
	case errors.Is(err, transfer.ErrBusy):
		return transfer.Busy(name)
	case errors.Is(err, transfer.ErrFull) || errors.Is(err, transfer.ErrStopping):
		e := vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "The server takes no more transfers now (%v); retry later.", err)
		e.RetryAfter = capsRetryAfter
		return e
	}
	return err
}
