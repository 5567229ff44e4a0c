package rest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// TestTransferEndpointRoutesByMethod: GET and HEAD of a transfer path are downloads, PUT and
// POST uploads, and every other method is refused with the four the path takes. A server with
// no content store refuses both directions at once, which tells them apart by the operation
// counted.
func TestTransferEndpointRoutesByMethod(t *testing.T) {
	const path = TransferPrefix + "sid/tid/cap"
	cases := []struct {
		method, path string
		wantOp       string
		wantType     vapi.ErrorType
		wantStatus   int
	}{
		{http.MethodGet, path, "download", vapi.ServiceUnavailable, http.StatusServiceUnavailable},
		{http.MethodHead, path, "download", vapi.ServiceUnavailable, http.StatusServiceUnavailable},
		{http.MethodPut, path, "transfer", vapi.ServiceUnavailable, http.StatusServiceUnavailable},
		{http.MethodPost, path, "transfer", vapi.ServiceUnavailable, http.StatusServiceUnavailable},
		{http.MethodDelete, path, "transfer", vapi.InvalidRequest, http.StatusMethodNotAllowed},
		{http.MethodPatch, path, "transfer", vapi.InvalidRequest, http.StatusMethodNotAllowed},
		{http.MethodGet, TransferPrefix + "sid/tid", "download", vapi.OperationNotFound, http.StatusNotFound},
		{http.MethodGet, TransferPrefix + "sid/tid/cap/more", "download", vapi.OperationNotFound, http.StatusNotFound},
		{http.MethodGet, TransferPrefix + "sid//cap", "download", vapi.OperationNotFound, http.StatusNotFound},
	}
	s := &Server{Log: logr.Discard()}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			counted := metrics.RESTRequests.WithLabelValues(tc.wantOp, string(tc.wantType))
			before := testutil.ToFloat64(counted)
			w := httptest.NewRecorder()
			s.serveTransferEndpoint(w, httptest.NewRequest(tc.method, tc.path, nil))
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			if got := testutil.ToFloat64(counted) - before; got != 1 {
				t.Fatalf("%s %s counted %v times as %s %s, want once", tc.method, tc.path, got, tc.wantOp, tc.wantType)
			}
			if allow := w.Header().Get("Allow"); tc.wantStatus == http.StatusMethodNotAllowed && allow != "GET, HEAD, POST, PUT" {
				t.Fatalf("Allow = %q, want the four methods of the path", allow)
			}
		})
	}
}
