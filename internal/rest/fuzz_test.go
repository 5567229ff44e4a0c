package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

// FuzzRoute checks that any method and target either finds an operation with a well-formed
// id, or is refused with a 400, 404 or 405 that both URL forms can encode.
func FuzzRoute(f *testing.F) {
	for _, seed := range []struct{ method, target string }{
		{"POST", apiBase + "/abc?action=keep-alive"},
		{"POST", restBase + "/id:abc?~action=keep-alive"},
		{"GET", apiBase + "?library_item_id=x"},
		{"DELETE", restBase + "/id:abc"},
		{"POST", apiBase + "/a/b?action=complete"},
		{"PATCH", restBase + "/id:?~action=fail&~action=cancel"},
		{"GET", "/api/../api/content"},
	} {
		f.Add(seed.method, seed.target)
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n") {
			return
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}}
		op, id, verr := lookupOperation(formFor(u.Path), r, u.Query())
		if verr == nil {
			if op == nil {
				t.Fatal("no operation and no error")
			}
			if strings.Contains(id, "/") {
				t.Fatalf("id %q contains a slash", id)
			}
			return
		}
		switch verr.HTTPStatus() {
		case 400, 404, 405:
		default:
			t.Fatalf("refused with status %d", verr.HTTPStatus())
		}
		for _, fm := range []*form{apiForm, restForm} {
			rec := httptest.NewRecorder()
			fm.writeError(rec, verr)
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("error body is not JSON: %q", rec.Body.String())
			}
		}
	})
}

// FuzzBodies checks that every operation's body decoding accepts or refuses any bytes with
// INVALID_ARGUMENT, in both forms, and never panics.
func FuzzBodies(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `{"client_progress": 40}`, `{"client_progress": "40"}`, `{"client_progress": 1e400}`,
		`{"create_spec": {"library_item_id": "a"}, "client_token": "t"}`,
		`{"library_item_id": "a", "warning_behavior": [{"type": "EXPIRED_CERTIFICATE", "ignored": true}]}`,
		`{"update_spec": {"warning_behavior": [{"type": "X"}]}}`, `{"client_error_message": "boom"}`,
		`[[[[`, "\xff\xfe{\x00}\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, op := range operations {
			for _, fm := range []*form{apiForm, restForm} {
				flat, _, err := fm.unwrap(op, body, url.Values{})
				checkInvalidArgument(t, err)
				if err != nil {
					continue
				}
				var in sessionInput
				if err := decodeOptional(flat, &in); err == nil {
					_, err = newSession("ns", in)
					checkInvalidArgument(t, err)
					_, err = warningBehaviors(in.WarningBehavior)
					checkInvalidArgument(t, err)
				} else {
					checkInvalidArgument(t, err)
				}
				checkInvalidArgument(t, decodeOptional(flat, &keepAliveInput{}))
				checkInvalidArgument(t, decodeOptional(flat, &failInput{}))
			}
		}
	})
}

func checkInvalidArgument(t *testing.T, err error) {
	t.Helper()
	var verr *vapi.Error
	if err != nil && (!errors.As(err, &verr) || verr.Type != vapi.InvalidArgument) {
		t.Fatalf("error %v is not INVALID_ARGUMENT", err)
	}
}

// FuzzJSONRPC checks that any JSON-RPC body is either read, its input unpacked or refused as
// INVALID_ARGUMENT, or refused with one of JSON-RPC's own errors; and that every answer to it is
// JSON.
func FuzzJSONRPC(f *testing.F) {
	input := `{"STRUCTURE":{"operation-input":{"update_session_id":"s","client_progress":{"OPTIONAL":4}}}}`
	for _, seed := range []string{
		`{"jsonrpc":"2.0","method":"invoke","id":"1","params":{"serviceId":"com.vmware.content.library.item.update_session",` +
			`"operationId":"keep_alive","input":` + input + `,"ctx":{"securityCtx":{"schemeId":` +
			`"com.vmware.vapi.std.security.session_id","sessionId":"0123"}}}}`,
		`{"jsonrpc":"2.0","method":"invoke","id":7,"params":{"serviceId":"com.vmware.content.library.item.update_session",` +
			`"operationId":"create","input":{"STRUCTURE":{"operation-input":{"create_spec":{"STRUCTURE":` +
			`{"com.vmware.content.library.item.update_session_model":{}}}}}}}}`,
		`{"jsonrpc":"2.0","method":"invoke","id":null,"params":[]}`, `[]`, `{`, `{"jsonrpc":"1.0"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, jsonrpcPath, strings.NewReader(string(body)))
		w := httptest.NewRecorder()
		var req rpcRequest
		defer req.release()
		if rerr := readRPCRequest(w, r, &req); rerr != nil {
			(&Server{}).refuseRPC(w, r, &req, rerr)
		} else if rop, err := lookupRPCOperation(req.params.serviceID, req.params.operationID); err == nil {
			var c call
			_, err := rop.unpack(&c, req.params.input)
			var verr *vapi.Error
			if err != nil && (!errors.As(err, &verr) || verr.Type != vapi.InvalidArgument) {
				t.Fatalf("unpack: %v, want INVALID_ARGUMENT", err)
			}
			writeRPCResult(w, req.id, "output", []byte("null"))
		}
		if w.Body.Len() > 0 && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("the answer to %q is not JSON: %s", body, w.Body.Bytes())
		}
	})
}
