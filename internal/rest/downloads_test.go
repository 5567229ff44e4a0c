package rest

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

const (
	apiDownloads  = "/api/content/library/item/download-session"
	restDownloads = "/rest/com/vmware/content/library/item/download-session"
)

// TestLookupDownloadOperation: the download-session service is routed by its own table under
// its own base, in both forms, and only its own operations are there.
func TestLookupDownloadOperation(t *testing.T) {
	cases := []struct {
		name, method, target string
		wantOp, wantID       string
		wantErr              vapi.ErrorType
		wantStatus           int
	}{
		{"api create", "POST", apiDownloads, "download-session-create", "", "", 0},
		{"rest create", "POST", restDownloads, "download-session-create", "", "", 0},
		{"api list", "GET", apiDownloads + "?library_item_id=x", "download-session-list", "", "", 0},
		{"rest list", "GET", restDownloads, "download-session-list", "", "", 0},
		{"api get", "GET", apiDownloads + "/abc", "download-session-get", "abc", "", 0},
		{"rest get", "GET", restDownloads + "/id:abc", "download-session-get", "abc", "", 0},
		{"api delete", "DELETE", apiDownloads + "/abc", "download-session-delete", "abc", "", 0},
		{"rest delete", "DELETE", restDownloads + "/id:abc", "download-session-delete", "abc", "", 0},
		{"api keep-alive", "POST", apiDownloads + "/abc?action=keep-alive", "download-session-keep-alive", "abc", "", 0},
		{"rest keep-alive", "POST", restDownloads + "/id:abc?~action=keep-alive", "download-session-keep-alive", "abc", "", 0},
		{"api cancel", "POST", apiDownloads + "/abc?action=cancel", "download-session-cancel", "abc", "", 0},
		{"rest fail", "POST", restDownloads + "/id:abc?~action=fail", "download-session-fail", "abc", "", 0},
		{"download sessions do not complete", "POST", apiDownloads + "/abc?action=complete", "", "", vapi.OperationNotFound, 404},
		{"download sessions are not updated", "PATCH", restDownloads + "/id:abc", "", "", vapi.InvalidRequest, 405},
		{"a path that only shares the prefix", "GET", apiDownloads + "s/abc", "", "", vapi.OperationNotFound, 404},
		{"update sessions keep their table", "POST", apiBase + "/abc?action=complete", "complete", "abc", "", 0},
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
			if wantResource := tc.wantOp != "complete"; (op.resource == resourceDownloadSessions) != wantResource {
				t.Fatalf("operation %s is on resource %q", op.name, op.resource)
			}
		})
	}
}

// TestLookupDownloadFiles: the download-session file service's paths, in both forms, name the
// session and the operation; the /api form's get is a GET naming the file in the query.
func TestLookupDownloadFiles(t *testing.T) {
	cases := []struct {
		name, method, target string
		wantOp, wantID       string
		wantErr              vapi.ErrorType
	}{
		{"api list", "GET", apiDownloads + "/abc/file", "download-file-list", "abc", ""},
		{"rest list", "GET", restDownloadFiles + "?download_session_id=abc", "download-file-list", "abc", ""},
		{"rest list without a session", "GET", restDownloadFiles, "", "", vapi.InvalidArgument},
		{"api get", "GET", apiDownloads + "/abc/file?file_name=a.txt", "download-file-get", "abc", ""},
		{"rest get", "POST", restDownloadFiles + "/id:abc?~action=get", "download-file-get", "abc", ""},
		{"api prepare", "POST", apiDownloads + "/abc/file?action=prepare", "download-file-prepare", "abc", ""},
		{"rest prepare", "POST", restDownloadFiles + "/id:abc?~action=prepare", "download-file-prepare", "abc", ""},
		{"api prepare without its action", "POST", apiDownloads + "/abc/file", "", "", vapi.InvalidRequest},
		{"rest unknown action", "POST", restDownloadFiles + "/id:abc?~action=add", "", "", vapi.OperationNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			op, target, matched, err := lookupContent(formFor(r.URL.Path), r, r.URL.Query())
			if !matched {
				t.Fatalf("%s is not a file-service path", tc.target)
			}
			if tc.wantErr != "" {
				if err == nil || err.Type != tc.wantErr {
					t.Fatalf("got %v (op %v), want %s", err, op, tc.wantErr)
				}
				return
			}
			if err != nil || op.name != tc.wantOp || target.id != tc.wantID || op.resource != resourceDownloadSessions {
				t.Fatalf("got op %v target %+v err %v, want %s %q", op, target, err, tc.wantOp, tc.wantID)
			}
		})
	}
}

// TestClientTokenHeader: the /api form takes create's client_token from the Client-Token header
// too, the query's first; the /rest form only from its envelope.
func TestClientTokenHeader(t *testing.T) {
	create := downloadOperations[route{"POST", false, ""}]
	cases := []struct {
		name   string
		form   *form
		target string
		header string
		body   string
		want   string
	}{
		{"api header", apiForm, apiDownloads, "tok", `{"library_item_id": "x"}`, "tok"},
		{"api query first", apiForm, apiDownloads + "?client_token=q", "tok", `{"library_item_id": "x"}`, "q"},
		{"api none", apiForm, apiDownloads, "", `{"library_item_id": "x"}`, ""},
		{"rest envelope", restForm, restDownloads, "", `{"client_token": "e", "create_spec": {"library_item_id": "x"}}`, "e"},
		{"rest ignores the header", restForm, restDownloads, "tok", `{"create_spec": {"library_item_id": "x"}}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tc.target, nil)
			if tc.header != "" {
				r.Header.Set(headerClientToken, tc.header)
			}
			query := r.URL.Query()
			tc.form.headerParams(r, create, query)
			_, params, err := tc.form.unwrap(create, []byte(tc.body), query)
			if err != nil || params[paramClientToken] != tc.want {
				t.Fatalf("client_token %q, err %v; want %q", params[paramClientToken], err, tc.want)
			}
		})
	}
}

// TestDownloadErrorsNameTheirKind: the store's errors about a download session say so.
func TestDownloadErrorsNameTheirKind(t *testing.T) {
	download := downloadOperations[route{"GET", true, ""}]
	update := operations[route{"GET", true, ""}]
	missing := &store.NotFoundError{ID: "abc"}
	if got := opError(download, missing); got.Type != vapi.NotFound || got.Messages[0].ID != msgDownloadNotFound {
		t.Fatalf("a download session's NotFound is %+v", got)
	}
	if got := opError(update, missing); got.Messages[0].ID != msgNotFound {
		t.Fatalf("an update session's NotFound is %+v", got)
	}
	if got := opError(download, &store.BusyError{ID: "abc"}); got.Type != vapi.ResourceBusy || got.Messages[0].ID != msgDownloadBusy {
		t.Fatalf("a busy download session is %+v", got)
	}
	if got := opError(download, errors.New("boom")); got.Type != vapi.InternalServerError {
		t.Fatalf("another error is %+v", got)
	}
}
