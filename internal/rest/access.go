package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/login"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

const (
	msgUnauthenticated = "com.vmware.vapi.std.security.unauthenticated"
	msgUnauthorized    = "com.vmware.vapi.std.security.unauthorized"
	msgHeaderTooLarge  = "com.vmware.vapi.rest.header_too_large"
)

// authenticate returns the caller of a request and its credential. Without a valid token it is
// UNAUTHENTICATED (401); when the API server cannot be asked, SERVICE_UNAVAILABLE (503).
func (s *Server) authenticate(ctx context.Context, r *http.Request) (*auth.Caller, auth.Credential, error) {
	cred, err := auth.Credentials(r)
	if err != nil {
		return nil, cred, unauthenticated(err)
	}
	caller, err := s.authenticateAs(ctx, cred)
	return caller, cred, err
}

// authenticateAs returns the caller of cred, with the errors of authenticate.
func (s *Server) authenticateAs(ctx context.Context, cred auth.Credential) (*auth.Caller, error) {
	caller, err := s.authenticateCredential(ctx, cred)
	switch {
	case errors.Is(err, login.ErrUnknown) || errors.Is(err, login.ErrEnded):
		return nil, unauthenticated(err)
	case errors.Is(err, auth.ErrInvalidToken) && cred.Basic:
		return nil, unauthenticated(fmt.Errorf("the password is not a token the Kubernetes API server "+
			"accepts; %w", auth.ErrBasicPassword))
	case errors.Is(err, auth.ErrInvalidToken):
		return nil, unauthenticated(err)
	case err != nil:
		e := vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "Cannot authenticate the caller now: %v.", err)
		if errors.Is(err, auth.ErrThrottled) {
			e.RetryAfter = retryAfter
		}
		return nil, e
	}
	return caller, nil
}

// authenticateCredential finds the caller of a session id that a login answered, or of a token.
func (s *Server) authenticateCredential(ctx context.Context, cred auth.Credential) (*auth.Caller, error) {
	if s.isSessionID(cred) {
		return s.Logins.Authenticate(ctx, cred.Token)
	}
	return s.Gate.Authenticate(ctx, cred.Token)
}

// isSessionID: the credential is a session id, not a token.
func (s *Server) isSessionID(cred auth.Credential) bool {
	return cred.Session && s.Logins != nil && login.IsID(cred.Token)
}

func unauthenticated(err error) *vapi.Error {
	return vapi.Errorf(vapi.Unauthenticated, msgUnauthenticated, "Unauthenticated: %v.", err)
}

// authorize checks that caller may run op on the sessions of namespace, or on the one named
// name: the same RBAC check the API server makes for kubectl.
func (s *Server) authorize(ctx context.Context, caller *auth.Caller, op *operation, namespace, name string) error {
	allowed, reason, err := s.Gate.AuthorizeResource(ctx, caller, op.verb, op.resource, namespace, name)
	if err != nil {
		e := vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "Cannot authorize the caller now: %v.", err)
		if errors.Is(err, auth.ErrThrottled) {
			e.RetryAfter = retryAfter
		}
		return e
	}
	if !allowed {
		resource := op.resource
		if resource == "" {
			resource = "updatesessions"
		}
		target := resource + ".library.contentlib.dev in namespace " + namespace
		if name != "" {
			target = strings.TrimSuffix(resource, "s") + " " + namespace + "/" + name
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

// chargeRead spends one of caller's reads of the API server or the content store (see
// ReadLimits), so that no caller spends the operator's budget of either alone: past its budget
// a caller is answered SERVICE_UNAVAILABLE with Retry-After, while every other caller is
// served. A call that reads on the caller's behalf is charged before it reads.
func (s *Server) chargeRead(caller *auth.Caller) error {
	if err := s.reads.take(caller.GetName(), s.Clock.Now()); err != nil {
		e := vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "Cannot serve the call now: %v.", err)
		e.RetryAfter = retryAfter
		return e
	}
	return nil
}

// callerNamespace is where create and list work: the namespace the request names, else the
// caller's service-account namespace, else the default.
func (s *Server) callerNamespace(caller *auth.Caller, requested string) (string, error) {
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
