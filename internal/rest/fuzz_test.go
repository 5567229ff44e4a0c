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
