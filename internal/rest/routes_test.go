package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

const (
	apiBase  = "/api/content/library/item/update-session"
	restBase = "/rest/com/vmware/content/library/item/update-session"
)

func TestLookupOperation(t *testing.T) {
	cases := []struct {
		name       string
		method     string
		target     string
		wantOp     string
		wantID     string
		wantErr    vapi.ErrorType
		wantStatus int
	}{
		{"api keep-alive", "POST", apiBase + "/abc?action=keep-alive", "keep-alive", "abc", "", 0},
		{"rest keep-alive", "POST", restBase + "/id:abc?~action=keep-alive", "keep-alive", "abc", "", 0},
		{"rest form ignores the api form's action parameter", "POST", restBase + "/id:abc?action=keep-alive", "", "", vapi.InvalidRequest, 405},
		{"create", "POST", apiBase, "create", "", "", 0},
		{"create with a trailing slash", "POST", restBase + "/", "create", "", "", 0},
		{"list", "GET", apiBase + "?library_item_id=x", "list", "", "", 0},
		{"get", "GET", restBase + "/id:abc", "get", "abc", "", 0},
		{"update", "PATCH", apiBase + "/abc", "update", "abc", "", 0},
		{"delete", "DELETE", restBase + "/id:abc", "delete", "abc", "", 0},
		{"complete", "POST", apiBase + "/abc?action=complete", "complete", "abc", "", 0},
		{"cancel", "POST", restBase + "/id:abc?~action=cancel", "cancel", "abc", "", 0},
		{"fail", "POST", apiBase + "/abc?action=fail", "fail", "abc", "", 0},
		{"action on the collection", "POST", apiBase + "?action=keep-alive", "", "", vapi.OperationNotFound, 404},
		{"PUT on the collection", "PUT", apiBase, "", "", vapi.InvalidRequest, 405},
		{"rest item without id: prefix", "POST", restBase + "/abc?~action=keep-alive", "", "", vapi.OperationNotFound, 404},
		{"unknown action", "POST", apiBase + "/abc?action=explode", "", "", vapi.OperationNotFound, 404},
		{"wrong method on keep-alive", "GET", apiBase + "/abc?action=keep-alive", "", "", vapi.InvalidRequest, 405},
		{"unknown path", "GET", "/api/vcenter/vm", "", "", vapi.OperationNotFound, 404},
		{"id with a slash", "POST", apiBase + "/abc/def?action=keep-alive", "", "", vapi.OperationNotFound, 404},
		{"empty id", "POST", apiBase + "/?action=keep-alive", "", "", vapi.OperationNotFound, 404},
		{"path that only shares a prefix", "POST", apiBase + "-x/abc?action=keep-alive", "", "", vapi.OperationNotFound, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			op, id, err := lookupOperation(formFor(r.URL.Path), r, r.URL.Query())
			if tc.wantErr != "" {
				if err == nil || err.Type != tc.wantErr || err.HTTPStatus() != tc.wantStatus {
					t.Fatalf("got %v (op %v), want %s with status %d", err, op, tc.wantErr, tc.wantStatus)
				}
				return
			}
			if err != nil || op.name != tc.wantOp || id != tc.wantID {
				t.Fatalf("got op %v id %q err %v, want %s %q", op, id, err, tc.wantOp, tc.wantID)
			}
		})
	}
}

func TestDecodeOptional(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		want     *int64
		wantFail bool
	}{
		{"empty body", "", nil, false},
		{"whitespace", " \n\t", nil, false},
		{"null", "null", nil, false},
		{"empty object", "{}", nil, false},
		{"progress", `{"client_progress": 40}`, new(int64(40)), false},
		{"progress null", `{"client_progress": null}`, nil, false},
		{"malformed JSON", `{"client_progress": 4`, nil, true},
		{"not an object", `[40]`, nil, true},
		{"unknown field", `{"client_progress": 40, "extra": 1}`, nil, true},
		{"string progress", `{"client_progress": "40"}`, nil, true},
		{"fractional progress", `{"client_progress": 40.5}`, nil, true},
		{"progress beyond int64", `{"client_progress": 99999999999999999999}`, nil, true},
		{"two objects", `{} {}`, nil, true},
		{"trailing garbage", `{}x`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var in keepAliveInput
			err := decodeOptional([]byte(tc.body), &in)
			if tc.wantFail {
				var verr *vapi.Error
				if !errors.As(err, &verr) || verr.Type != vapi.InvalidArgument {
					t.Fatalf("err = %v, want INVALID_ARGUMENT", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if (in.ClientProgress == nil) != (tc.want == nil) || (tc.want != nil && *in.ClientProgress != *tc.want) {
				t.Fatalf("client_progress = %v, want %v", in.ClientProgress, tc.want)
			}
		})
	}
}

func TestAsVAPI(t *testing.T) {
	gr := schema.GroupResource{Group: "library.contentlib.dev", Resource: "updatesessions"}
	cases := []struct {
		name string
		err  error
		want vapi.ErrorType
	}{
		{"vAPI error passes through", vapi.Errorf(vapi.NotFound, "x", "gone"), vapi.NotFound},
		{"wrapped vAPI error", fmt.Errorf("ctx: %w", vapi.Errorf(vapi.ResourceBusy, "x", "busy")), vapi.ResourceBusy},
		{"API server validation", apierrors.NewInvalid(schema.GroupKind{Group: gr.Group, Kind: "UpdateSession"}, "x", nil), vapi.InvalidArgument},
		{"conflict", apierrors.NewConflict(gr, "x", errors.New("changed")), vapi.ResourceBusy},
		{"API server unavailable", apierrors.NewServiceUnavailable("down"), vapi.ServiceUnavailable},
		{"API server throttling", apierrors.NewTooManyRequests("slow down", 1), vapi.ServiceUnavailable},
		{"deadline exceeded", context.DeadlineExceeded, vapi.ServiceUnavailable},
		{"connection refused", &netError{syscall.ECONNREFUSED}, vapi.ServiceUnavailable},
		{"forbidden to the manager", apierrors.NewForbidden(gr, "x", errors.New("rbac")), vapi.InternalServerError},
		{"anything else", errors.New("boom"), vapi.InternalServerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := asVAPI(tc.err).Type; got != tc.want {
				t.Errorf("asVAPI(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}

type netError struct{ error }

func (netError) Timeout() bool   { return false }
func (netError) Temporary() bool { return false }

func TestErrorBodies(t *testing.T) {
	err := vapi.Errorf(vapi.NotFound, "m.id", "Session %s does not exist.", "abc")
	for _, tc := range []struct {
		form *form
		want string
	}{
		{apiForm, `{"error_type":"NOT_FOUND","messages":[{"id":"m.id","default_message":"Session abc does not exist.","args":["abc"]}]}`},
		{restForm, `{"type":"com.vmware.vapi.std.errors.not_found","value":{"messages":[{"id":"m.id","default_message":"Session abc does not exist.","args":["abc"]}]}}`},
	} {
		rec := httptest.NewRecorder()
		tc.form.writeError(rec, err)
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: status %d, content type %q", tc.form.name, rec.Code, rec.Header().Get("Content-Type"))
		}
		if got := rec.Body.String(); got != tc.want+"\n" {
			t.Errorf("%s: body\n%s\nwant\n%s", tc.form.name, got, tc.want)
		}
	}
}
