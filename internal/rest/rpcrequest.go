package rest

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/contentlib/update-session-operator/internal/vapi/data"
)

// rpcRequest is a JSON-RPC 2.0 request of method invoke. Its parts point into its body: they
// are compared and looked up as they are, and copied into strings only where a call keeps them.
type rpcRequest struct {
	jsonrpc, method []byte
	// id is the request's id, undecoded: the answer repeats it.
	id     []byte
	params rpcParams
	// hasParams: the request has params.
	hasParams bool
	// buf holds the body, pooled; nil: not pooled.
	buf *[]byte
}

// rpcParams are the params of invoke. The ctx's appCtx is not read: nothing in it changes what
// a call does.
type rpcParams struct {
	serviceID, operationID []byte
	input                  []byte
	securityCtx            securityContext
}

// securityContext is a call's credentials in one of the schemes this server takes; its scheme
// is nil when the call has none.
type securityContext struct {
	schemeID, userName, password, sessionID []byte
}

// release returns the request's body to the pool once its call is answered.
func (req *rpcRequest) release() {
	giveBack(req.buf)
	req.buf = nil
}

// giveBack returns buf, if any, to rpcBodies.
func giveBack(buf *[]byte) {
	if buf != nil {
		rpcBodies.Put(buf)
	}
}

// rpcBodies are buffers for the bodies of JSON-RPC requests: every call has one, a keep-alive's
// a few hundred bytes.
var rpcBodies = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody is the largest body read into a buffer of rpcBodies: the rare large one is not
// kept.
const maxPooledBody = 8 << 10

// readRPCRequest reads a JSON-RPC request into req, refusing one that is too large, not JSON,
// or not a call of invoke with params.
func readRPCRequest(w http.ResponseWriter, r *http.Request, req *rpcRequest) *rpcError {
	if err := checkHeaderSize(r); err != nil {
		return &rpcError{code: rpcInvalidRequest, detail: err.Error()}
	}
	body, buf, err := readRPCBody(w, r)
	if err != nil {
		return &rpcError{code: rpcInvalidRequest, detail: err.Error()}
	}
	req.buf = buf
	if rerr := parseRPCRequest(req, body); rerr != nil {
		return rerr
	}
	switch {
	case !data.IsString(req.jsonrpc, "2.0"):
		return &rpcError{code: rpcInvalidRequest, detail: `jsonrpc must be "2.0"`}
	case !validID(req.id):
		return &rpcError{code: rpcInvalidRequest, detail: "id must be a string, a number or null"}
	case !data.IsString(req.method, "invoke"):
		return &rpcError{code: rpcMethodNotFound, detail: "the one method is invoke"}
	case !req.hasParams:
		return &rpcError{code: rpcInvalidParams, detail: "params must hold serviceId, operationId, input and ctx"}
	}
	// The runtime sends the ids in headers too; a call whose headers and body disagree is refused
	// as the runtime's server refuses it.
	if svc := headerValue(r.Header, "Vapi-Service"); svc != "" && (!data.IsString(req.params.serviceID, svc) ||
		!data.IsString(req.params.operationID, headerValue(r.Header, "Vapi-Operation"))) {
		return &rpcError{code: rpcInvalidOperation, message: "Mismatching operation identifier in HTTP header and payload."}
	}
	return nil
}

// readRPCBody reads a request's body as readBody does, into a pooled buffer when its length is
// known and small; buf is the buffer to give back, or nil.
//
// A small body is read without a deadline of its own: the connection watch's answer limit
// (answerTimeout), which runs from the headers read, bounds it already, and every JSON-RPC call
// has a body, on which a socket deadline, set and lifted, would cost each keep-alive what the
// watch exists to save (see package connwatch).
func readRPCBody(w http.ResponseWriter, r *http.Request) (body []byte, buf *[]byte, err error) {
	if r.ContentLength <= 0 || r.ContentLength > min(maxBodyBytes, maxPooledBody) {
		body, err = readBody(w, r)
		return body, nil, err
	}
	buf = rpcBodies.Get().(*[]byte)
	body = slices.Grow((*buf)[:0], int(r.ContentLength))[:r.ContentLength]
	*buf = body
	if _, err := io.ReadFull(r.Body, body); err != nil {
		giveBack(buf)
		return nil, nil, bodyReadError(err)
	}
	// Read to its end, the body is closed, so that the server, once the call is answered, does
	// not try to read what is left of it (nothing) through a reader of its own.
	_ = r.Body.Close()
	return body, buf, nil
}

// parseRPCRequest reads the members of a request that this server uses, with data's walker
// rather than encoding/json's reflection: a keep-alive is the hot path, and its request is
// mostly envelope. One pass checks that the body is JSON and reads the members, descending
// into params, its ctx and that one's securityCtx, so that no byte is read twice. A member of
// the wrong type reads as absent; a key that repeats reads as its last value, as encoding/json
// would read it.
func parseRPCRequest(req *rpcRequest, body []byte) *rpcError {
	var params []byte // the last params, whatever its type
	object, valid := data.WalkObject(body, func(key, raw []byte, i, depth int) (int, bool) {
		name := data.KeyText(key)
		if string(name) == "params" {
			req.params = rpcParams{}
			end, isObject, ok := data.WalkValue(raw, i, depth, req.params.member)
			params, req.hasParams = raw[i:end], isObject
			return end, ok
		}
		end, ok := data.CheckValue(key, raw, i, depth)
		switch string(name) {
		case "jsonrpc":
			req.jsonrpc = raw[i:end]
		case "method":
			req.method = raw[i:end]
		case "id":
			req.id = raw[i:end]
		}
		return end, ok
	})
	switch {
	case !valid:
		return &rpcError{code: rpcParseError, detail: "the body is not JSON"}
	case !object:
		return &rpcError{code: rpcInvalidRequest, detail: "the request must be an object"}
	case params != nil && !req.hasParams:
		return &rpcError{code: rpcInvalidRequest, detail: "params must be an object"}
	}
	return nil
}

// member reads a member of params.
func (p *rpcParams) member(key, raw []byte, i, depth int) (int, bool) {
	name := data.KeyText(key)
	if string(name) == "ctx" {
		p.securityCtx = securityContext{}
		end, _, ok := data.WalkValue(raw, i, depth, p.securityCtx.inCtx)
		return end, ok
	}
	end, ok := data.CheckValue(key, raw, i, depth)
	switch string(name) {
	case "serviceId":
		p.serviceID = raw[i:end]
	case "operationId":
		p.operationID = raw[i:end]
	case "input":
		p.input = raw[i:end]
	}
	return end, ok
}

// inCtx reads a member of the ctx of params: its securityCtx, when that is an object. The
// appCtx is only checked.
func (sc *securityContext) inCtx(key, raw []byte, i, depth int) (int, bool) {
	if string(data.KeyText(key)) != "securityCtx" {
		return data.CheckValue(key, raw, i, depth)
	}
	*sc = securityContext{}
	end, _, ok := data.WalkValue(raw, i, depth, sc.member)
	return end, ok
}

// member reads a member of a securityCtx.
func (sc *securityContext) member(key, raw []byte, i, depth int) (int, bool) {
	end, ok := data.CheckValue(key, raw, i, depth)
	switch string(data.KeyText(key)) {
	case "schemeId":
		sc.schemeID = raw[i:end]
	case "userName":
		sc.userName = raw[i:end]
	case "password":
		sc.password = raw[i:end]
	case "sessionId":
		sc.sessionID = raw[i:end]
	}
	return end, ok
}

// validID: a request's id is a string, a number, or absent or null.
func validID(id []byte) bool {
	id = bytes.TrimSpace(id)
	return len(id) == 0 || id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9') || string(id) == "null"
}
