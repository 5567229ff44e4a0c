package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/vapi"
	"github.com/contentlib/update-session-operator/internal/vapi/data"
)

// jsonrpcPath is where VMware's SDKs send vAPI JSON-RPC 2.0 calls: POST /api, the third wire of
// the operation table beside the /api and /rest URL forms. Its specification is VMware's runtime
// (vmware/vapi/protocol/client/msg/json_connector.py, .../server/msg/json_handler.py).
const jsonrpcPath = "/api"

// The security schemes of a call's security context (vmware/vapi/security/user_password.py,
// session.py).
const (
	schemeUserPassword = "com.vmware.vapi.std.security.user_pass"
	schemeSessionID    = "com.vmware.vapi.std.security.session_id"
)

// The JSON-RPC 2.0 error codes of calls that are not vAPI calls at all, as the runtime's
// JsonRpc20Error has them. Every error of a vAPI call is a vAPI error in its result instead.
const (
	rpcParseError       = -32700
	rpcInvalidRequest   = -32600
	rpcMethodNotFound   = -32601
	rpcInvalidParams    = -32602
	rpcInvalidOperation = -31001
)

const (
	msgInvalidInput     = "vapi.method.input.invalid"
	msgInvalidInterface = "vapi.method.input.invalid.interface"
	msgInvalidMethod    = "vapi.method.input.invalid.method"
)

// rpcError is the error of a request that is no vAPI call: JSON-RPC's own error object.
type rpcError struct {
	code    int
	message string
	// detail says what is wrong, in the error's data.
	detail string
}

// serveJSONRPC serves a vAPI JSON-RPC call. Like the REST forms it answers from the operation
// table, within the same caps, authentication, RBAC and read budgets; unlike them it answers
// every call that it could read with 200, its vAPI error in the result, as VMware's server does
// and as the SDKs require (they raise on any other status before they read the body).
func (s *Server) serveJSONRPC(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, cancel := newCallContext(r, requestTimeout)
	defer cancel()
	var req rpcRequest
	defer req.release()
	if rerr := readRPCRequest(w, r, &req); rerr != nil {
		s.refuseRPC(w, r, &req, rerr)
		return
	}
	rop, result, err := s.invoke(ctx, r, &req.params)
	var output []byte
	if err == nil {
		output, err = encodeOutput(rop, result)
	}
	if err == nil {
		if log := s.Log.V(1); log.Enabled() {
			log.Info("REST call", "operation", rop.op.name, "form", "jsonrpc", "path", r.URL.Path)
		}
		writeRPCResult(w, req.id, "output", output)
		rop.op.ok.Observe(time.Since(start))
		return
	}
	name, op := noOperation, (*operation)(nil)
	if rop != nil {
		name, op = rop.op.name, rop.op
	}
	verr := opError(op, err)
	s.logRefusal(r, verr)
	s.writeRPCError(w, req.id, verr)
	metrics.RESTCallOf(name, string(verr.Type)).Observe(time.Since(start))
}

// invoke runs a call: authentication from the call's security context, the operation its
// serviceId and operationId name, its input decoded by the bindings' description into what the
// REST forms give the handler, the caller's access, then the handler.
func (s *Server) invoke(ctx context.Context, r *http.Request, p *rpcParams) (*rpcOperation, any, error) {
	cred, err := rpcCredentials(r, &p.securityCtx)
	if err != nil {
		return nil, nil, unauthenticated(err)
	}
	caller, err := s.authenticateAs(ctx, cred)
	if err != nil {
		return nil, nil, err
	}
	rop, err := lookupRPCOperation(p.serviceID, p.operationID)
	if err != nil {
		return nil, nil, err
	}
	c := call{caller: caller, token: cred.Token, loggedIn: s.isSessionID(cred)}
	if rop.origin {
		c.origin = origin(r) // where add and prepare advertise their transfer endpoints
	}
	id, err := rop.unpack(&c, p.input)
	if err != nil {
		return rop, nil, err
	}
	if !rop.fixed {
		if err := s.target(ctx, &c, rop.op, id, namespaceParam(r)); err != nil {
			return rop, nil, err
		}
	}
	result, err := rop.op.handle(s, ctx, c)
	return rop, result, err
}

// rpcCredentials returns a call's credential. A session id in SessionIDHeader overrides the
// security context, as VMware's server lets it; else the security context's user/password
// scheme (the password is a Kubernetes token, as basic auth's is on the REST forms) or its
// session-id scheme (a login's session id, or a token); without a security context, the
// request's headers, as the REST forms read them.
func rpcCredentials(r *http.Request, sc *securityContext) (auth.Credential, error) {
	if sc.schemeID == nil || headerValue(r.Header, auth.SessionIDKey) != "" {
		return auth.Credentials(r)
	}
	switch {
	case data.IsString(sc.schemeID, schemeUserPassword):
		return auth.PasswordCredential(data.Unquote(sc.userName), data.Unquote(sc.password))
	case data.IsString(sc.schemeID, schemeSessionID):
		return auth.SessionCredential(strings.TrimSpace(data.Unquote(sc.sessionID)))
	}
	return auth.Credential{}, errors.New("the security context's scheme is not supported: use " + schemeUserPassword +
		" with a Kubernetes token as the password, or " + schemeSessionID + " with the session id of a login")
}

// lookupRPCOperation finds the operation a call names (JSON strings, as the request spells
// them), or says that the service, or the operation of a service, is unknown, as the runtime does.
func lookupRPCOperation(service, operation []byte) (*rpcOperation, error) {
	// The names as the SDKs spell them are found without a copy: every call names its operation.
	if svc, ok := data.PlainString(service); ok {
		if op, ok := data.PlainString(operation); ok {
			if rop := rpcServices[string(svc)][string(op)]; rop != nil {
				return rop, nil
			}
		}
	}
	svc, op := data.Unquote(service), data.Unquote(operation)
	if rop := rpcOperations[rpcMethod{svc, op}]; rop != nil {
		return rop, nil
	}
	for m := range rpcOperations {
		if m.service == svc {
			return nil, vapi.Errorf(vapi.OperationNotFound, msgInvalidMethod, "Invalid method %s.", clip(op))
		}
	}
	return nil, vapi.Errorf(vapi.OperationNotFound, msgInvalidInterface, "Invalid interface %s.", clip(svc))
}

// clip bounds a name an error repeats.
func clip(s string) string {
	if len(s) > maxShownID {
		return strconv.Quote(s[:maxShownID]) + "..."
	}
	return strconv.Quote(s)
}

// namespaceParam is the namespace the request's URL names (POST /api?namespace=...), where create
// and list work as on the REST forms; empty without a query.
func namespaceParam(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get("namespace")
}

// unpack decodes a call's input into what the REST forms give a handler: the session id it
// names, the operation's named parameters (client_token), and its body: the member op.bodyKey
// (create_spec), or the other fields as one flat object ({"client_progress": 40}).
func (o *rpcOperation) unpack(c *call, input []byte) (id string, err error) {
	var buf [8]data.FieldValue
	fields, err := data.AppendFields(buf[:0], o.input, input)
	if err != nil {
		return "", vapi.Errorf(vapi.InvalidArgument, msgInvalidInput, "Invalid input: %v.", err)
	}
	var flat []data.FieldValue
	for _, f := range fields {
		switch {
		case f.Name == o.id:
			id = data.Unquote(f.Plain) // an ID: AppendFields checked that it is a string
		case f.Name == o.op.bodyKey:
			c.body = f.Plain
		case slices.Contains(o.op.params, f.Name):
			if c.params == nil {
				c.params = map[string]string{}
			}
			c.params[f.Name] = data.Unquote(f.Plain) // a string or an ID, as the input describes it
		default:
			flat = append(flat, f)
		}
	}
	if len(flat) > 0 {
		c.body = data.AppendObject(nil, flat)
	}
	return id, checkParams(c.params)
}

// encodeOutput returns a handler's result in the typed encoding of the operation's output.
// A result that does not fit its description is the operator's own failure.
func encodeOutput(rop *rpcOperation, result any) ([]byte, error) {
	if result == nil && rop.output.Kind == data.Void {
		return voidOutput, nil
	}
	plain, err := json.Marshal(result)
	if err != nil {
		return nil, err
	}
	out, err := data.Encode(rop.output, plain)
	if err != nil {
		return nil, vapi.Errorf(vapi.InternalServerError, msgInternal, "Internal error: the result of %s: %v.",
			rop.op.name, err)
	}
	return out, nil
}

// voidOutput is the output of an operation without a result, shared: an answer copies it.
var voidOutput = []byte("null")

// writeRPCError answers a vAPI error as the call's result, named in the vapi-error header as the
// runtime's server names it.
func (s *Server) writeRPCError(w http.ResponseWriter, id []byte, verr *vapi.Error) {
	value, err := data.EncodeError(verr)
	if err != nil { // a standard error always fits its description; should it not, say so
		s.Log.Error(err, "Encoding a vAPI error", "type", verr.Type)
		value, _ = data.EncodeError(vapi.Errorf(vapi.InternalServerError, msgInternal, "Internal error."))
	}
	w.Header().Set("vapi-error", verr.Type.QualifiedName())
	if verr.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(verr.RetryAfter.Round(time.Second)/time.Second)))
	}
	writeRPCResult(w, id, "error", value)
}

// writeRPCResult answers {"jsonrpc":"2.0","id":id,"result":{key: value}}, built in a buffer of
// rpcBodies: the server copies what it is given to write.
func writeRPCResult(w http.ResponseWriter, id []byte, key string, value []byte) {
	buf := rpcBodies.Get().(*[]byte)
	answer := appendRPCHead((*buf)[:0], id)
	answer = append(append(append(append(answer, `"result":{"`...), key...), `":`...), value...)
	answer = append(answer, "}}"...)
	writeRPC(w, answer)
	if cap(answer) <= maxPooledBody {
		*buf = answer
		giveBack(buf)
	}
}

// headerValue is h.Get(key) for a key in the form net/http stores it, which it does not
// canonicalise again: a non-canonical key costs Get a copy on every call.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// refuseRPC answers a request that is no vAPI call with a JSON-RPC error. Parse errors and
// invalid requests carry a null id, as JSON-RPC 2.0 wants them to.
func (s *Server) refuseRPC(w http.ResponseWriter, r *http.Request, req *rpcRequest, e *rpcError) {
	start := time.Now()
	if log := s.Log.V(1); log.Enabled() {
		log.Info("REST call refused", "method", r.Method, "path", r.URL.Path, "jsonrpcCode", e.code, "error", e.detail)
	}
	var id []byte
	if e.code != rpcParseError && e.code != rpcInvalidRequest {
		id = req.id
	}
	obj := struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    string `json:"data,omitempty"`
	}{e.code, e.message, e.detail}
	if obj.Message == "" {
		obj.Message = rpcMessages[e.code]
	}
	value, _ := json.Marshal(obj)
	buf := appendRPCHead(nil, id)
	buf = append(append(append(buf, `"error":`...), value...), '}')
	writeRPC(w, buf)
	metrics.RESTCallOf(noOperation, string(vapi.InvalidRequest)).Observe(time.Since(start))
}

// rpcMessages are the messages of the JSON-RPC errors, as the runtime words them.
var rpcMessages = map[int]string{
	rpcParseError:     "Parse error.",
	rpcInvalidRequest: "Invalid Request.",
	rpcMethodNotFound: "Method not found.",
	rpcInvalidParams:  "Invalid params.",
}

// appendRPCHead appends the start of a response, up to its result or error.
func appendRPCHead(buf []byte, id []byte) []byte {
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	if id = bytes.TrimSpace(id); len(id) == 0 {
		id = []byte("null")
	}
	return append(append(buf, id...), ',')
}

// jsonContentType is the Content-Type of every answer, shared: set on the header as it is, it
// costs a call neither a canonicalised key nor a slice.
var jsonContentType = []string{"application/json"}

func writeRPC(w http.ResponseWriter, body []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
