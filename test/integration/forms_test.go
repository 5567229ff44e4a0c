package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// urlForm spells requests and reads results in one of the API's two URL forms.
type urlForm struct {
	name string
	base string
	// itemPrefix goes before the id in an item path.
	itemPrefix string
	// actionParam names the action in the query.
	actionParam string
	wrapped     bool
	// The HTTP statuses VMware's specification gives in this form: of a create, of a call
	// without a result, and of a create refused because the item has an ACTIVE session.
	created, noResult, createBusy int
}

var (
	apiURLs = urlForm{name: "api", base: apiBase, actionParam: "action",
		created: http.StatusCreated, noResult: http.StatusNoContent, createBusy: http.StatusInternalServerError}
	restURLs = urlForm{name: "rest", base: restBase, itemPrefix: "id:", actionParam: "~action", wrapped: true,
		created: http.StatusOK, noResult: http.StatusOK, createBusy: http.StatusBadRequest}
	forms = []urlForm{apiURLs, restURLs}
)

func (f urlForm) collection(server string) string { return server + f.base }

func (f urlForm) item(server, id string) string {
	return server + f.base + "/" + f.itemPrefix + url.PathEscape(id)
}

func (f urlForm) action(server, id, action string) string {
	return f.item(server, id) + "?" + f.actionParam + "=" + action
}

// wrap puts an operation's input where the form expects it: flat in /api, under key in /rest.
func (f urlForm) wrap(key, body string) string {
	if !f.wrapped || body == "" {
		return body
	}
	return `{"` + key + `": ` + body + `}`
}

// result decodes a successful response's result into v, unwrapping {"value": ...} in /rest.
func (f urlForm) result(t *testing.T, resp response, wantStatus int, v any) {
	t.Helper()
	if resp.status != wantStatus {
		t.Fatalf("status %d, want %d; body %s", resp.status, wantStatus, resp.body)
	}
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	data := resp.body
	if f.wrapped {
		var wrapper map[string]json.RawMessage
		if err := json.Unmarshal(data, &wrapper); err != nil || len(wrapper) != 1 || wrapper["value"] == nil {
			t.Fatalf("/rest result is not {\"value\": ...}: %s", data)
		}
		data = wrapper["value"]
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("result %s: %v", data, err)
	}
}

// create creates a session through the API and returns its id.
func (f urlForm) create(t *testing.T, server, spec string) string {
	t.Helper()
	var id string
	f.result(t, do(t, http.MethodPost, f.collection(server), f.wrap("create_spec", spec)), f.created, &id)
	if id == "" {
		t.Fatal("create returned an empty id")
	}
	return id
}

// noContent fails unless the call answered 204 with no body, as the /api form answers a
// call without a result.
func noContent(t *testing.T, resp response) {
	t.Helper()
	apiURLs.ok(t, resp)
}

// ok fails unless the call answered the form's status of success without a result (/api 204,
// /rest 200) with an empty body.
func (f urlForm) ok(t *testing.T, resp response) {
	t.Helper()
	if resp.status != f.noResult || len(resp.body) != 0 {
		t.Fatalf("%s form: status %d, body %q; want %d with no body", f.name, resp.status, resp.body, f.noResult)
	}
}

// refused fails unless the call answered the given status and vAPI error type.
func refused(t *testing.T, resp response, wantStatus int, wantType string) {
	t.Helper()
	if resp.status != wantStatus || resp.errorType(t) != wantType {
		t.Fatalf("got %d %s, want %d %s", resp.status, resp.body, wantStatus, wantType)
	}
}
