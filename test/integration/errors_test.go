package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEveryOperationError calls each operation in each way it must refuse, in both URL forms,
// and checks the status, the vAPI error type, and that no session changed.
func TestEveryOperationError(t *testing.T) {
	const unknown = "5b1e3c1a-0000-4000-8000-000000000000"
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	active := apiURLs.create(t, srv, `{"library_item_id": "active-item"}`)
	done := apiURLs.create(t, srv, `{"library_item_id": "done-item"}`)
	noContent(t, do(t, http.MethodPost, apiURLs.action(srv, done, "complete"), ""))

	type request struct{ method, url, body string }
	cases := []struct {
		name       string
		req        func(f urlForm) request
		wantStatus int
		wantType   string
	}{
		{"create without library_item_id", func(f urlForm) request {
			return request{"POST", f.collection(srv), f.wrap("create_spec", `{"library_item_content_version": "1"}`)}
		}, 400, "INVALID_ARGUMENT"},
		{"create without body", func(f urlForm) request { return request{"POST", f.collection(srv), ""} }, 400, "INVALID_ARGUMENT"},
		{"create with a 256-character item id", func(f urlForm) request {
			return request{"POST", f.collection(srv), f.wrap("create_spec", `{"library_item_id": "`+strings.Repeat("i", 256)+`"}`)}
		}, 400, "INVALID_ARGUMENT"},
		{"create with an unknown warning type", func(f urlForm) request {
			return request{"POST", f.collection(srv), f.wrap("create_spec", `{"library_item_id": "n", "warning_behavior": [{"type": "BAD"}]}`)}
		}, 400, "INVALID_ARGUMENT"},
		{"create with an unknown field", func(f urlForm) request {
			return request{"POST", f.collection(srv), f.wrap("create_spec", `{"library_item_id": "n", "color": "red"}`)}
		}, 400, "INVALID_ARGUMENT"},
		{"create with malformed JSON", func(f urlForm) request {
			return request{"POST", f.collection(srv), f.wrap("create_spec", `{"library_item_id": `)}
		}, 400, "INVALID_ARGUMENT"},
		{"get an unknown id", func(f urlForm) request { return request{"GET", f.item(srv, unknown), ""} }, 404, "NOT_FOUND"},
		{"update an unknown id", func(f urlForm) request {
			return request{"PATCH", f.item(srv, unknown), f.wrap("update_spec", `{"warning_behavior": []}`)}
		}, 404, "NOT_FOUND"},
		{"update a DONE session", func(f urlForm) request {
			return request{"PATCH", f.item(srv, done), f.wrap("update_spec", `{"warning_behavior": []}`)}
		}, 400, "NOT_ALLOWED_IN_CURRENT_STATE"},
		{"update with an unknown warning type", func(f urlForm) request {
			return request{"PATCH", f.item(srv, active), f.wrap("update_spec", `{"warning_behavior": [{"type": "X"}]}`)}
		}, 400, "INVALID_ARGUMENT"},
		{"update with one warning type twice", func(f urlForm) request {
			return request{"PATCH", f.item(srv, active), f.wrap("update_spec",
				`{"warning_behavior": [{"type": "EXPIRED_CERTIFICATE"}, {"type": "EXPIRED_CERTIFICATE", "ignored": true}]}`)}
		}, 400, "INVALID_ARGUMENT"},
		{"update with ignored as a string", func(f urlForm) request {
			return request{"PATCH", f.item(srv, active), f.wrap("update_spec",
				`{"warning_behavior": [{"type": "EXPIRED_CERTIFICATE", "ignored": "yes"}]}`)}
		}, 400, "INVALID_ARGUMENT"},
		{"complete an unknown id", func(f urlForm) request { return request{"POST", f.action(srv, unknown, "complete"), ""} }, 404, "NOT_FOUND"},
		{"complete a DONE session", func(f urlForm) request { return request{"POST", f.action(srv, done, "complete"), ""} }, 400, "NOT_ALLOWED_IN_CURRENT_STATE"},
		{"cancel an unknown id", func(f urlForm) request { return request{"POST", f.action(srv, unknown, "cancel"), ""} }, 404, "NOT_FOUND"},
		{"cancel a DONE session", func(f urlForm) request { return request{"POST", f.action(srv, done, "cancel"), ""} }, 400, "NOT_ALLOWED_IN_CURRENT_STATE"},
		{"fail an unknown id", func(f urlForm) request { return request{"POST", f.action(srv, unknown, "fail"), ""} }, 404, "NOT_FOUND"},
		{"fail a DONE session", func(f urlForm) request { return request{"POST", f.action(srv, done, "fail"), ""} }, 400, "NOT_ALLOWED_IN_CURRENT_STATE"},
		{"fail with a numeric message", func(f urlForm) request {
			return request{"POST", f.action(srv, active, "fail"), `{"client_error_message": 5}`}
		}, 400, "INVALID_ARGUMENT"},
		{"keep-alive a DONE session", func(f urlForm) request { return request{"POST", f.action(srv, done, "keep-alive"), ""} }, 400, "NOT_ALLOWED_IN_CURRENT_STATE"},
		{"delete an unknown id", func(f urlForm) request { return request{"DELETE", f.item(srv, unknown), ""} }, 404, "NOT_FOUND"},
		{"delete an ACTIVE session", func(f urlForm) request { return request{"DELETE", f.item(srv, active), ""} }, 400, "NOT_ALLOWED_IN_CURRENT_STATE"},
		{"unknown action", func(f urlForm) request { return request{"POST", f.action(srv, active, "pause"), ""} }, 404, "OPERATION_NOT_FOUND"},
		{"wrong method on an action", func(f urlForm) request { return request{"GET", f.action(srv, active, "complete"), ""} }, 405, "INVALID_REQUEST"},
		{"wrong method on the collection", func(f urlForm) request { return request{"PUT", f.collection(srv), ""} }, 405, "INVALID_REQUEST"},
		{"unknown path", func(f urlForm) request { return request{"GET", srv + f.base + "-v2", ""} }, 404, "OPERATION_NOT_FOUND"},
	}
	for _, tc := range cases {
		for _, f := range forms {
			t.Run(tc.name+"/"+f.name, func(t *testing.T) {
				before := snapshot(t, ns)
				r := tc.req(f)
				refused(t, do(t, r.method, r.url, r.body), tc.wantStatus, tc.wantType)
				if after := snapshot(t, ns); after != before {
					t.Fatalf("a refused call changed a session: %s -> %s", before, after)
				}
			})
		}
	}
}

func TestRestFormRefusesUnknownEnvelopeMembers(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	for _, body := range []string{
		`{"create_spec": {"library_item_id": "a"}, "extra": "x"}`,
		`{"library_item_id": "a"}`, // flat, as the /api form takes it
		`{"create_spec": {"library_item_id": "a"}, "client_token": 7}`,
	} {
		refused(t, do(t, http.MethodPost, restURLs.collection(srv), body), 400, "INVALID_ARGUMENT")
	}
}

func TestListOfNothingIsEmptyList(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	for _, f := range forms {
		var ids []string
		resp := do(t, http.MethodGet, f.collection(srv)+"?library_item_id=none", "")
		f.result(t, resp, http.StatusOK, &ids)
		if ids == nil || len(ids) != 0 {
			t.Errorf("%s: list = %s, want []", f.name, resp.body)
		}
	}
}
