package rest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

// form is one of the two URL forms of the API. Both serve the same operations through the same
// handlers; a form only decides how paths, actions, bodies and results are spelled.
type form struct {
	name string
	// base is the path of the update-session collection, downloadBase that of the
	// download-session collection.
	base, downloadBase string
	// idPrefix precedes the id in an item path ("id:" in the /rest form).
	idPrefix string
	// actionParam is the query parameter naming the action.
	actionParam string
	// wrapped: bodies are wrapped as {"<op.bodyKey>": ...} and results as {"value": ...}.
	wrapped bool
}

var (
	apiForm = &form{
		name:         "api",
		base:         "/api/content/library/item/update-session",
		downloadBase: "/api/content/library/item/download-session",
		actionParam:  "action",
	}
	restForm = &form{
		name:         "rest",
		base:         "/rest/com/vmware/content/library/item/update-session",
		downloadBase: "/rest/com/vmware/content/library/item/download-session",
		idPrefix:     "id:",
		actionParam:  "~action",
		wrapped:      true,
	}
)

// formFor picks the form from the path; anything outside /rest is answered in the /api form.
func formFor(path string) *form {
	if path == "/rest" || strings.HasPrefix(path, "/rest/") {
		return restForm
	}
	return apiForm
}

// route identifies an operation: the method, whether the path names a session, and the action.
type route struct {
	method string
	item   bool
	action string
}

// collection is the operation table of the collection a request's path lies under, with that
// collection's base in form f: the download sessions', else the update sessions'.
func (f *form) collection(path string) (base string, table map[route]*operation) {
	if rest, ok := strings.CutPrefix(path, f.downloadBase); ok && (rest == "" || rest[0] == '/') {
		return f.downloadBase, downloadOperations
	}
	return f.base, operations
}

// parse splits a request, with its parsed query, into its route and session id under base. ok
// is false when the path is not one of base's.
func (f *form) parse(r *http.Request, query url.Values, base string) (rt route, id string, ok bool) {
	rt = route{method: r.Method, action: query.Get(f.actionParam)}
	rest, found := strings.CutPrefix(r.URL.Path, base)
	switch {
	case !found:
		return rt, "", false
	case rest == "" || rest == "/":
		return rt, "", true
	}
	id, found = strings.CutPrefix(rest[1:], f.idPrefix)
	if rest[0] != '/' || !found || id == "" || strings.Contains(id, "/") {
		return rt, "", false
	}
	rt.item = true
	return rt, id, true
}

// successStatus is the HTTP status of a successful call of op, as VMware's specification
// gives it: in the /rest form every success is 200; in the /api form a create is 201, a call
// without a result 204, any other 200.
func (f *form) successStatus(op *operation, result any) int {
	switch {
	case f.wrapped:
		return http.StatusOK
	case op.creates:
		return http.StatusCreated
	case result == nil:
		return http.StatusNoContent
	}
	return http.StatusOK
}

// writeResult sends a successful result of op; a call without one has an empty body.
func (f *form) writeResult(w http.ResponseWriter, op *operation, result any) {
	status := f.successStatus(op, result)
	if result == nil {
		w.WriteHeader(status)
		return
	}
	if f.wrapped {
		result = struct {
			Value any `json:"value"`
		}{result}
	}
	writeJSON(w, status, result)
}

// errorFor gives err the status the specification names for it on op in this form, where
// that differs from the error type's usual status.
func (f *form) errorFor(op *operation, err *vapi.Error) *vapi.Error {
	if f.wrapped || op == nil || err.Status != 0 {
		return err
	}
	if status, ok := op.apiErrorStatus[err.Type]; ok {
		e := *err
		e.Status = status
		return &e
	}
	return err
}

// writeError sends err in the form's error shape with its HTTP status.
func (f *form) writeError(w http.ResponseWriter, err *vapi.Error) {
	var body any = err.APIBody()
	if f.wrapped {
		body = err.RESTBody()
	}
	if err.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(err.RetryAfter.Round(time.Second)/time.Second)))
	}
	writeJSON(w, err.HTTPStatus(), body)
}

// headerClientToken is the header that carries create's client_token in the /api form.
const headerClientToken = "Client-Token"

// headerParams adds to query the parameters that the /api form takes from headers as well:
// create's client_token from Client-Token, as VMware's SDKs send it. A client_token in the
// query takes precedence.
func (f *form) headerParams(r *http.Request, op *operation, query url.Values) {
	if f.wrapped || !slices.Contains(op.params, paramClientToken) || query.Has(paramClientToken) {
		return
	}
	if token := r.Header.Get(headerClientToken); token != "" {
		query.Set(paramClientToken, token)
	}
}

// unwrap returns an operation's flat input and its named parameters (client_token), checked
// by checkParams: the /api form's body as it is with parameters from the query, the /rest
// form's body member op.bodyKey with parameters beside it in the same wrapper.
func (f *form) unwrap(op *operation, body []byte, query url.Values) (flat []byte, params map[string]string, err error) {
	if flat, params, err = f.split(op, body, query); err != nil {
		return nil, nil, err
	}
	return flat, params, checkParams(params)
}

// split is unwrap without the check of the parameters.
func (f *form) split(op *operation, body []byte, query url.Values) (flat []byte, params map[string]string, err error) {
	if len(op.params) > 0 { // most operations, keep-alive among them, take none: no map
		params = map[string]string{}
	}
	if !f.wrapped || op.bodyKey == "" {
		for _, k := range op.params {
			if v := query.Get(k); v != "" {
				params[k] = v
			}
		}
		return body, params, nil
	}
	var wrapper map[string]json.RawMessage
	if err := decodeOptional(body, &wrapper); err != nil {
		return nil, nil, err
	}
	for k, v := range wrapper {
		switch {
		case k == op.bodyKey:
			flat = v
		case slices.Contains(op.params, k):
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, nil, invalidBody("member %q must be a string", k)
			}
			params[k] = s
		default:
			return nil, nil, invalidBody("unknown member %q", k)
		}
	}
	return flat, params, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
