package rest

import (
	"context"
	"errors"
	"iter"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/login"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// call is one request, reduced to what an operation needs.
type call struct {
	// caller is who made the request, and token the credential it came with: a session id
	// that a login answered when loggedIn.
	caller   *auth.Caller
	token    string
	loggedIn bool
	// namespace is where create and list work, or the namespace of session.
	namespace string
	// session is the update session the path names, download the download session (for the
	// operations on resourceDownloadSessions); nil on the collection. Each is shared with the
	// cache: read it, and write a copy (own, ownDownload).
	session  *v1alpha1.UpdateSession
	download *v1alpha1.DownloadSession
	// body is the operation's flat JSON input, already unwrapped from the /rest envelope.
	body []byte
	// params are the operation's named parameters (client_token), from query or envelope.
	params map[string]string
	// item is the library item the path of an item's file or storage service names.
	item string
	// origin is the scheme and host the request was sent to, where an upload endpoint is
	// advertised unless the server's AdvertiseURL says otherwise.
	origin string
}

// own returns a copy of the call's session for a handler to change and write.
func (c call) own() *v1alpha1.UpdateSession { return c.session.DeepCopy() }

// ownDownload returns a copy of the call's download session for a handler to change and write.
func (c call) ownDownload() *v1alpha1.DownloadSession { return c.download.DeepCopy() }

// operation is one entry of the API: how it is called and what it does.
type operation struct {
	name string
	// verb is the Kubernetes RBAC verb a kubectl user needs for the same effect.
	verb string
	// resource is what verb applies to, in the API group: updatesessions when empty. With
	// resourceDownloadSessions, the path's id names a download session (call.download).
	resource string
	// creates: a success answers 201 Created in the /api form (see form.successStatus).
	creates bool
	// apiErrorStatus overrides, in the /api form only, the HTTP status of an error type where
	// VMware's specification gives this operation another one (create's RESOURCE_BUSY is 500).
	apiErrorStatus map[vapi.ErrorType]int
	// bodyKey is the member of the /rest form's body that holds the input ("create_spec").
	bodyKey string
	// params are the names of the operation's parameters beside the body.
	params []string
	handle func(s *Server, ctx context.Context, c call) (any, error)
	// ok are the metrics of the operation's successful calls (see init).
	ok metrics.RESTCall
}

// init resolves each operation's metrics of success once.
func init() {
	for _, ops := range []iter.Seq[*operation]{maps.Values(operations), maps.Values(fixedOperations),
		maps.Values(contentOperations), maps.Values(downloadOperations)} {
		for op := range ops {
			op.ok = metrics.RESTCallOf(op.name, "ok")
		}
	}
}

// The RBAC verbs a kubectl user needs for the same effect as an operation.
const (
	verbCreate = "create"
	verbList   = "list"
	verbGet    = "get"
	verbUpdate = "update"
	verbDelete = "delete"
)

// operations is the update-session API: every route under a form's base, in both URL forms.
var operations = map[route]*operation{
	{http.MethodPost, false, ""}: {name: "create", verb: verbCreate, creates: true,
		apiErrorStatus: map[vapi.ErrorType]int{vapi.ResourceBusy: http.StatusInternalServerError},
		bodyKey:        "create_spec", params: []string{"client_token"}, handle: (*Server).create},
	{http.MethodGet, false, ""}:              {name: "list", verb: verbList, params: []string{paramLibraryItemID}, handle: (*Server).list},
	{http.MethodGet, true, ""}:               {name: "get", verb: verbGet, handle: (*Server).get},
	{http.MethodPatch, true, ""}:             {name: "update", verb: verbUpdate, bodyKey: "update_spec", handle: (*Server).update},
	{http.MethodDelete, true, ""}:            {name: "delete", verb: verbDelete, handle: (*Server).delete},
	{http.MethodPost, true, "complete"}:      {name: "complete", verb: verbUpdate, handle: (*Server).complete},
	{http.MethodPost, true, actionCancel}:    {name: "cancel", verb: verbUpdate, handle: finishWith(v1alpha1.StateCanceled)},
	{http.MethodPost, true, actionFail}:      {name: "fail", verb: verbUpdate, handle: (*Server).fail},
	{http.MethodPost, true, actionKeepAlive}: {name: "keep-alive", verb: verbUpdate, handle: (*Server).keepAlive},
}

// The actions both kinds of session have.
const (
	actionCancel    = "cancel"
	actionFail      = "fail"
	actionKeepAlive = "keep-alive"
)

const (
	msgOperationNotFound = "com.vmware.vapi.rest.operation_not_found"
	msgMethodNotAllowed  = "com.vmware.vapi.rest.method_not_allowed"
)

// lookupOperation finds the operation a request calls, or says precisely why there is none:
// an unknown path or action (OPERATION_NOT_FOUND, 404) or a known one called with the wrong
// method (INVALID_REQUEST, 405, with the methods that would work in Allow).
func lookupOperation(f *form, r *http.Request, query url.Values) (*operation, string, *vapi.Error) {
	if len(query[f.actionParam]) > 1 {
		return nil, "", vapi.Errorf(vapi.InvalidRequest, msgOperationNotFound,
			"The %s parameter is given more than once.", f.actionParam)
	}
	base, table := f.collection(r.URL.Path)
	rt, id, ok := f.parse(r, query, base)
	if !ok {
		return nil, "", vapi.Errorf(vapi.OperationNotFound, msgOperationNotFound,
			"No operation is served at %s.", r.URL.Path)
	}
	if op := table[rt]; op != nil {
		return op, id, nil
	}
	if allowed := allowedMethods(table, rt); len(allowed) > 0 {
		err := vapi.Errorf(vapi.InvalidRequest, msgMethodNotAllowed,
			"Method %s is not allowed here; use %s.", r.Method, strings.Join(allowed, " or "))
		err.Status = http.StatusMethodNotAllowed
		return nil, "", err
	}
	what := "path"
	if rt.action != "" {
		what = "action " + rt.action + " on the path"
	}
	return nil, "", vapi.Errorf(vapi.OperationNotFound, msgOperationNotFound,
		"No operation is served for %s %s.", what, r.URL.Path)
}

// allowedMethods lists the methods that have an operation of table for rt's path and action.
func allowedMethods(table map[route]*operation, rt route) []string {
	var methods []string
	for other := range table {
		if other.item == rt.item && other.action == rt.action && !slices.Contains(methods, other.method) {
			methods = append(methods, other.method)
		}
	}
	slices.Sort(methods)
	return methods
}

// fixedRoute identifies an operation outside the update-session collection by method, path
// and action.
type fixedRoute struct {
	method, path, action string
}

const (
	restSessionPath = "/rest/com/vmware/cis/session"
	apiSessionPath  = "/api/session"
)

// fixedOperations are what vSphere clients call around update sessions. The session service:
// login answers with a session id made from the caller's token (see package login), which
// govmomi and govc send in vmware-api-session-id on their later calls (govc logs in with the
// token as the basic-auth password). Logout has nothing to end: a session id lasts as long as
// its token, and other clients of the same token share it.
var fixedOperations = map[fixedRoute]*operation{
	{http.MethodPost, restSessionPath, ""}:        {name: opLogin, handle: logIn},
	{http.MethodPost, apiSessionPath, ""}:         {name: opLogin, creates: true, handle: logIn},
	{http.MethodPost, restSessionPath, actionGet}: {name: "session-get", handle: sessionInfo},
	{http.MethodGet, apiSessionPath, ""}:          {name: "session-get", handle: sessionInfo},
	{http.MethodDelete, restSessionPath, ""}:      {name: "logout", handle: logout},
	{http.MethodDelete, apiSessionPath, ""}:       {name: "logout", handle: logout},
}

// loginAccess is the access a login requires: get on the update sessions of the caller's
// namespace (its service account's, else the default). Login stores a Secret for its caller, so
// only callers who can use this API get one; get is the least a session's caller needs (every
// role that lets a client work on sessions grants it), and the namespace is the one where
// login's clients (govc, govmomi), which name none, work.
// opLogin is the name of the login operation.
const opLogin = "login"

var loginAccess = &operation{name: opLogin, verb: verbGet}

// logIn answers with the session id of the caller's token; a caller that sent a session id
// gets it back. A caller without loginAccess is refused UNAUTHORIZED, and nothing is stored.
// Should the login not be stored (the caller has as many logins as it may, the API server is
// unreachable, or RBAC does not let the operator write Secrets in its namespace), it answers
// with the token itself, as every replica accepts it in vmware-api-session-id.
func logIn(s *Server, ctx context.Context, c call) (any, error) {
	if s.Logins == nil || c.loggedIn {
		return c.token, nil
	}
	home, err := s.callerNamespace(c.caller, "")
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c.caller, loginAccess, home, ""); err != nil {
		return nil, err
	}
	// Counting the caller's logins reads the API server.
	if err := s.chargeRead(c.caller); err != nil {
		return nil, err
	}
	id, err := s.Logins.Login(ctx, c.token, c.caller)
	switch {
	case errors.Is(err, login.ErrTooMany):
		s.Log.V(1).Info("Login answers with the caller's token: the caller has as many logins as it may",
			"caller", c.caller.GetName(), "error", err.Error())
		return c.token, nil
	case err != nil:
		s.Log.Error(err, "Login answers with the caller's token: the session cannot be stored",
			"namespace", s.Logins.Namespace(), "caller", c.caller.GetName())
		return c.token, nil
	}
	return id, nil
}

// sessionInfo describes the caller's session as vSphere's Session.Info does. A session is a
// view of its token, alive as long as the token and shared by its other clients: it has no
// times of its own, so both of its times are the call's.
func sessionInfo(s *Server, _ context.Context, c call) (any, error) {
	now := s.Clock.Now().UTC()
	return struct {
		User             string    `json:"user"`
		CreatedTime      time.Time `json:"created_time"`
		LastAccessedTime time.Time `json:"last_accessed_time"`
	}{c.caller.GetName(), now, now}, nil
}

func logout(*Server, context.Context, call) (any, error) { return nil, nil }
