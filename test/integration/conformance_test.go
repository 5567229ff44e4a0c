package integration

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixture is what one conformance row runs against, made fresh for it: an ACTIVE session and
// a DONE one, each on an item of its own.
type fixture struct {
	srv          string
	active, done string
	// activeItem is the library item of active, doneItem that of done.
	activeItem, doneItem string
}

// outcome is what the specification says a call answers in one form: its status, and either a
// result shape (for a success) or a vAPI error type.
type outcome struct {
	status int
	// shape of a success: "" no body, "id" a string, "ids" a list of strings, "model" a
	// session's model, "object" another object, "list" a list of objects.
	shape     string
	errorType string
}

// specRow is one documented outcome of a call, in each URL form, made against a fixture F
// (fixture for update sessions, downloadFixture for download sessions).
type specRow[F any] struct {
	name string
	call func(f urlForm, x F) (method, url, body string)
	api  outcome
	rest outcome
}

// specification is VMware's vSphere 8.0.2 API specification (content.json and cis.json,
// Swagger 2.0) for the update-session operations and what vSphere clients call around them,
// one row per documented outcome, in both URL forms. The rows follow the table of issue #8:
//
//	operation                            /api success / errors                 /rest success / errors
//	create                               201 id; 400, 500 RESOURCE_BUSY       200 {value: id}; 400 (resource_busy too)
//	list                                 200 [ids]                             200 {value: [ids]}
//	get                                  200 model; 404                        200 {value: model}; 404
//	update (PATCH)                       204; 404, 400                         200; 404, 400
//	delete                               204; 404, 400 NOT_ALLOWED_IN_...     200; 404, 400
//	cancel, complete, fail, keep-alive   204; 404, 400 NOT_ALLOWED_IN_...     200; 404, 400
//
// create's 404 (library item not found) cannot happen here: the operator keeps no library items.
var specification = []specRow[fixture]{
	{"create",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.collection(x.srv), f.wrap("create_spec", `{"library_item_id": "`+x.activeItem+`-new"}`)
		},
		outcome{status: 201, shape: "id"}, outcome{status: 200, shape: "id"}},
	{"create, invalid spec",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.collection(x.srv), f.wrap("create_spec", `{"library_item_id": ""}`)
		},
		outcome{status: 400, errorType: "INVALID_ARGUMENT"}, outcome{status: 400, errorType: "INVALID_ARGUMENT"}},
	{"create, item has an ACTIVE session",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.collection(x.srv), f.wrap("create_spec", `{"library_item_id": "`+x.activeItem+`"}`)
		},
		outcome{status: 500, errorType: "RESOURCE_BUSY"}, outcome{status: 400, errorType: "RESOURCE_BUSY"}},
	{"list",
		func(f urlForm, x fixture) (string, string, string) { return "GET", f.collection(x.srv), "" },
		outcome{status: 200, shape: "ids"}, outcome{status: 200, shape: "ids"}},
	{"list of one item",
		func(f urlForm, x fixture) (string, string, string) {
			return "GET", f.collection(x.srv) + "?library_item_id=" + x.activeItem, ""
		},
		outcome{status: 200, shape: "ids"}, outcome{status: 200, shape: "ids"}},
	{"get",
		func(f urlForm, x fixture) (string, string, string) { return "GET", f.item(x.srv, x.active), "" },
		outcome{status: 200, shape: "model"}, outcome{status: 200, shape: "model"}},
	{"get, unknown id",
		func(f urlForm, x fixture) (string, string, string) { return "GET", f.item(x.srv, unknownID), "" },
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"update",
		func(f urlForm, x fixture) (string, string, string) {
			return "PATCH", f.item(x.srv, x.active), f.wrap("update_spec", `{"warning_behavior": []}`)
		},
		outcome{status: 204}, outcome{status: 200}},
	{"update, unknown id",
		func(f urlForm, x fixture) (string, string, string) {
			return "PATCH", f.item(x.srv, unknownID), f.wrap("update_spec", `{"warning_behavior": []}`)
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"update, invalid spec",
		func(f urlForm, x fixture) (string, string, string) {
			return "PATCH", f.item(x.srv, x.active), f.wrap("update_spec", `{"warning_behavior": [{"type": "X"}]}`)
		},
		outcome{status: 400, errorType: "INVALID_ARGUMENT"}, outcome{status: 400, errorType: "INVALID_ARGUMENT"}},
	{"update, session ended",
		func(f urlForm, x fixture) (string, string, string) {
			return "PATCH", f.item(x.srv, x.done), f.wrap("update_spec", `{"warning_behavior": []}`)
		},
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"},
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"}},
	{"delete",
		func(f urlForm, x fixture) (string, string, string) { return "DELETE", f.item(x.srv, x.done), "" },
		outcome{status: 204}, outcome{status: 200}},
	{"delete, unknown id",
		func(f urlForm, x fixture) (string, string, string) { return "DELETE", f.item(x.srv, unknownID), "" },
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"delete, session ACTIVE",
		func(f urlForm, x fixture) (string, string, string) { return "DELETE", f.item(x.srv, x.active), "" },
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"},
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"}},
	actionRow("cancel", true, 204, 200, ""),
	actionRow("cancel", false, 404, 404, "NOT_FOUND"),
	actionRow("cancel", false, 400, 400, "NOT_ALLOWED_IN_CURRENT_STATE"),
	actionRow("complete", true, 204, 200, ""),
	actionRow("complete", false, 404, 404, "NOT_FOUND"),
	actionRow("complete", false, 400, 400, "NOT_ALLOWED_IN_CURRENT_STATE"),
	actionRow("fail", true, 204, 200, ""),
	actionRow("fail", false, 404, 404, "NOT_FOUND"),
	actionRow("fail", false, 400, 400, "NOT_ALLOWED_IN_CURRENT_STATE"),
	actionRow("keep-alive", true, 204, 200, ""),
	actionRow("keep-alive", false, 404, 404, "NOT_FOUND"),
	actionRow("keep-alive", false, 400, 400, "NOT_ALLOWED_IN_CURRENT_STATE"),

	// The session service (cis.json) and the download sessions govc lists beside update ones.
	{"login",
		func(f urlForm, x fixture) (string, string, string) { return "POST", x.srv + f.sessionPath(), "" },
		outcome{status: 201, shape: "id"}, outcome{status: 200, shape: "id"}},
	{"logout",
		func(f urlForm, x fixture) (string, string, string) { return "DELETE", x.srv + f.sessionPath(), "" },
		outcome{status: 204}, outcome{status: 200}},
	{"download-session list",
		func(f urlForm, x fixture) (string, string, string) {
			return "GET", x.srv + strings.Replace(f.base, "update-session", "download-session", 1), ""
		},
		outcome{status: 200, shape: "ids"}, outcome{status: 200, shape: "ids"}},
}

const unknownID = "5b1e3c1a-0000-4000-8000-000000000000"

// actionRow is the row of an action: its success, its NOT_FOUND on an unknown id, or its
// NOT_ALLOWED_IN_CURRENT_STATE on a session that ended.
func actionRow(action string, success bool, apiStatus, restStatus int, errorType string) specRow[fixture] {
	name := action
	target := func(x fixture) string { return x.active }
	switch {
	case errorType == "NOT_FOUND":
		name += ", unknown id"
		target = func(fixture) string { return unknownID }
	case !success:
		name += ", session ended"
		target = func(x fixture) string { return x.done }
	}
	return specRow[fixture]{name,
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.action(x.srv, target(x), action), ""
		},
		outcome{status: apiStatus, errorType: errorType}, outcome{status: restStatus, errorType: errorType}}
}

func (f urlForm) sessionPath() string {
	if f.wrapped {
		return "/rest/com/vmware/cis/session"
	}
	return "/api/session"
}

// TestConformsToVMwareSpecification calls every operation in both URL forms and checks the
// status, the body shape of a success and the error type and body shape of a refusal against
// the specification table above.
func TestConformsToVMwareSpecification(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	conform(t, srv, slices.Concat(specification, fileSpecification), newFixture)
}

// conform calls each row in both URL forms, against a fixture newFixture makes fresh for it,
// and checks the status, and the body shape of a success or the error type and body shape of
// a refusal.
func conform[F any](t *testing.T, srv string, rows []specRow[F], newFixture func(*testing.T, urlForm, string, string) F) {
	for _, row := range rows {
		for _, f := range forms {
			t.Run(row.name+"/"+f.name, func(t *testing.T) {
				x := newFixture(t, f, srv, row.name)
				want := row.api
				if f.wrapped {
					want = row.rest
				}
				method, url, body := row.call(f, x)
				resp := do(t, method, url, body)
				if resp.status != want.status {
					t.Fatalf("%s %s: status %d, want %d; body %s", method, url, resp.status, want.status, resp.body)
				}
				if want.errorType != "" {
					checkErrorShape(t, f, resp, want.errorType)
					return
				}
				checkResultShape(t, f, resp, want.shape)
			})
		}
	}
}

// newFixture makes an ACTIVE and a DONE session for the row named name, on items of their own.
func newFixture(t *testing.T, f urlForm, srv, name string) fixture {
	t.Helper()
	item := f.name + "-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return '-'
	}, name)
	x := fixture{srv: srv, activeItem: item + "-active", doneItem: item + "-done"}
	x.active = f.create(t, srv, `{"library_item_id": "`+x.activeItem+`"}`)
	x.done = f.create(t, srv, `{"library_item_id": "`+x.doneItem+`"}`)
	switch {
	case strings.HasPrefix(name, "file "):
		f.addFile(t, srv, x.active, pushSpec("disk.vmdk"))
	case strings.HasPrefix(name, "item "):
		f.addFile(t, srv, x.done, pushSpec("a.txt"))
		stageReady(t, srv, x.done, "a.txt", []byte("item content"))
	}
	f.ok(t, do(t, http.MethodPost, f.action(srv, x.done, "complete"), ""))
	return x
}

// checkResultShape checks a success's body: none, or JSON of the shape, wrapped as
// {"value": ...} alone in the /rest form.
func checkResultShape(t *testing.T, f urlForm, resp response, shape string) {
	t.Helper()
	if shape == "" {
		if len(resp.body) != 0 {
			t.Fatalf("a call without a result answered a body: %s", resp.body)
		}
		return
	}
	var raw json.RawMessage
	f.result(t, resp, resp.status, &raw)
	var ok bool
	switch shape {
	case "id":
		var id string
		ok = json.Unmarshal(raw, &id) == nil && id != ""
	case "ids":
		var ids []string
		ok = json.Unmarshal(raw, &ids) == nil && ids != nil
	case "model":
		var m model
		ok = json.Unmarshal(raw, &m) == nil && m.ID != "" && m.State != ""
	case "object":
		var o map[string]json.RawMessage
		ok = json.Unmarshal(raw, &o) == nil && len(o) > 0
	case "list":
		var l []map[string]json.RawMessage
		ok = json.Unmarshal(raw, &l) == nil && l != nil
	}
	if !ok {
		t.Fatalf("result %s is not of shape %s", raw, shape)
	}
}

// checkErrorShape checks a refusal's body: {"error_type", "messages"} in the /api form,
// {"type": "com.vmware.vapi.std.errors.<kind>", "value": {"messages"}} in the /rest form.
func checkErrorShape(t *testing.T, f urlForm, resp response, errorType string) {
	t.Helper()
	if got := resp.errorType(t); got != errorType {
		t.Fatalf("error type %s, want %s; body %s", got, errorType, resp.body)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"error_type", "messages"}
	if f.wrapped {
		wantKeys = []string{"type", "value"}
	}
	for _, k := range wantKeys {
		if body[k] == nil {
			t.Fatalf("%s form error without %q: %s", f.name, k, resp.body)
		}
	}
	if f.wrapped && !bytes.Contains(body["type"], []byte("com.vmware.vapi.std.errors."+strings.ToLower(errorType))) {
		t.Fatalf("/rest error type %s, want com.vmware.vapi.std.errors.%s", body["type"], strings.ToLower(errorType))
	}
}
