package rest

import (
	"context"
	"errors"
	"net/http"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

const (
	msgUnauthenticated = "com.vmware.vapi.std.security.unauthenticated"
	msgUnauthorized    = "com.vmware.vapi.std.security.unauthorized"
	msgHeaderTooLarge  = "com.vmware.vapi.rest.header_too_large"
)

// authenticate returns the caller of a request and its token. Without a valid token it is
// UNAUTHENTICATED (401); when the API server cannot be asked, SERVICE_UNAVAILABLE (503).
func (s *Server) authenticate(ctx context.Context, r *http.Request) (user.Info, string, error) {
	token, err := auth.Token(r)
	if err != nil {
		return nil, "", unauthenticated(err)
	}
	caller, err := s.Gate.Authenticate(ctx, token)
	if errors.Is(err, auth.ErrInvalidToken) {
		return nil, "", unauthenticated(err)
	} else if err != nil {
		return nil, "", vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "Cannot authenticate the caller now: %v.", err)
	}
	return caller, token, nil
}

func unauthenticated(err error) *vapi.Error {
	return vapi.Errorf(vapi.Unauthenticated, msgUnauthenticated, "Unauthenticated: %v.", err)
}

// authorize checks that caller may run op on the sessions of namespace, or on the one named
// name: the same RBAC check the API server makes for kubectl.
func (s *Server) authorize(ctx context.Context, caller user.Info, op *operation, namespace, name string) error {
	allowed, reason, err := s.Gate.Authorize(ctx, caller, op.verb, namespace, name)
	if err != nil {
		return vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "Cannot authorize the caller now: %v.", err)
	}
	if !allowed {
		target := "updatesessions.library.contentlib.dev in namespace " + namespace
		if name != "" {
			target = "updatesession " + namespace + "/" + name
		}
		e := vapi.Errorf(vapi.Unauthorized, msgUnauthorized, "%s may not %s %s (operation %s).",
			caller.GetName(), op.verb, target, op.name)
		if reason != "" {
			e.Messages = append(e.Messages, vapi.Message{ID: msgUnauthorized, DefaultMessage: reason, Args: []string{}})
		}
		return e
	}
	return nil
}

// callerNamespace is where create and list work: the namespace the request names, else the
// caller's service-account namespace, else the default.
func (s *Server) callerNamespace(caller user.Info, requested string) (string, error) {
	if requested != "" {
		if errs := validation.IsDNS1123Label(requested); len(errs) > 0 {
			return "", invalidArgument("namespace %q is not a valid namespace name", requested)
		}
		return requested, nil
	}
	if ns, ok := auth.HomeNamespace(caller); ok {
		return ns, nil
	}
	return s.DefaultNamespace, nil
}

// checkHeaderSize refuses, as JSON, headers that Go's server would still accept.
func checkHeaderSize(r *http.Request) error {
	size := len(r.URL.RawQuery) + len(r.URL.Path)
	for k, vs := range r.Header {
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	if size > maxHeaderBytes {
		e := vapi.Errorf(vapi.InvalidRequest, msgHeaderTooLarge,
			"The request line and headers are larger than the limit of %d bytes.", maxHeaderBytes)
		e.Status = http.StatusRequestHeaderFieldsTooLarge
		return e
	}
	return nil
}

// loginRoute identifies an operation of vSphere's session service by method, path and action.
type loginRoute struct {
	method, path, action string
}

// loginOperations are vSphere's session service: login answers with the caller's own token
// as the session id, so that govmomi's Login flow works; its later calls carry the token in
// vmware-api-session-id. Logout has nothing to end: tokens expire on their own.
const (
	restSessionPath = "/rest/com/vmware/cis/session"
	apiSessionPath  = "/api/session"
)

var loginOperations = map[loginRoute]*operation{
	{http.MethodPost, restSessionPath, ""}:    {name: "login", status: http.StatusOK, handle: login},
	{http.MethodPost, apiSessionPath, ""}:     {name: "login", status: http.StatusCreated, handle: login},
	{http.MethodPost, restSessionPath, "get"}: {name: "session-get", status: http.StatusOK, handle: sessionInfo},
	{http.MethodGet, apiSessionPath, ""}:      {name: "session-get", status: http.StatusOK, handle: sessionInfo},
	{http.MethodDelete, restSessionPath, ""}:  {name: "logout", handle: logout},
	{http.MethodDelete, apiSessionPath, ""}:   {name: "logout", handle: logout},
}

func login(_ *Server, _ context.Context, c call) (any, error) { return c.token, nil }

func sessionInfo(_ *Server, _ context.Context, c call) (any, error) {
	return struct {
		User string `json:"user"`
	}{c.caller.GetName()}, nil
}

func logout(*Server, context.Context, call) (any, error) { return nil, nil }
