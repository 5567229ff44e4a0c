package rest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// TestRPCUnpack: a call's input reaches the handler as the REST forms give it: the session id,
// the named parameters checked as identifiers, and the body as the handler decodes it.
func TestRPCUnpack(t *testing.T) {
	method := func(op string) *rpcOperation { return rpcOperations[rpcMethod{svcUpdateSession, op}] }
	download := func(op string) *rpcOperation { return rpcOperations[rpcMethod{svcDownloadSession, op}] }
	input := func(fields string) string { return `{"STRUCTURE":{"operation-input":{` + fields + `}}}` }
	cases := []struct {
		name       string
		rop        *rpcOperation
		input      string
		wantID     string
		wantBody   string
		wantParams map[string]string
		wantErr    string
	}{
		{name: "keep_alive with progress: a flat body", rop: method("keep_alive"),
			input:  input(`"update_session_id":"s-1","client_progress":{"OPTIONAL":40}`),
			wantID: "s-1", wantBody: `{"client_progress":40}`},
		{name: "keep_alive without progress: no body", rop: method("keep_alive"),
			input:  input(`"update_session_id":"s-1","client_progress":{"OPTIONAL":null}`),
			wantID: "s-1"},
		{name: "fail: its message in a flat body", rop: method("fail"),
			input:  input(`"update_session_id":"s-1","client_error_message":"disk full"`),
			wantID: "s-1", wantBody: `{"client_error_message":"disk full"}`},
		{name: "create: the spec is the body, the token a parameter", rop: method("create"),
			input: input(`"client_token":{"OPTIONAL":"t-1"},"create_spec":{"STRUCTURE":` +
				`{"com.vmware.content.library.item.update_session_model":{"library_item_id":{"OPTIONAL":"i"}}}}`),
			wantBody: `{"library_item_id":"i"}`, wantParams: map[string]string{"client_token": "t-1"}},
		{name: "list by item: a parameter", rop: method("list"),
			input: input(`"library_item_id":{"OPTIONAL":"i"}`), wantParams: map[string]string{"library_item_id": "i"}},
		{name: "file add: the spec is the body", rop: rpcOperations[rpcMethod{svcSessionFiles, "add"}],
			input: input(`"update_session_id":"s-1","file_spec":{"STRUCTURE":` +
				`{"com.vmware.content.library.item.updatesession.file.add_spec":{"name":"f","source_type":"PUSH"}}}`),
			wantID: "s-1", wantBody: `{"name":"f","source_type":"PUSH"}`},
		{name: "file get: the name in a flat body, as the /rest form has it", rop: rpcOperations[rpcMethod{svcSessionFiles, "get"}],
			input:  input(`"update_session_id":"s-1","file_name":"f"`),
			wantID: "s-1", wantBody: `{"file_name":"f"}`},
		{name: "download create: the spec is the body, the token a parameter", rop: download("create"),
			input: input(`"client_token":{"OPTIONAL":"t-1"},"create_spec":{"STRUCTURE":` +
				`{"com.vmware.content.library.item.download_session_model":{"library_item_id":{"OPTIONAL":"i"},` +
				`"state":{"OPTIONAL":null}}}}`),
			wantBody: `{"library_item_id":"i"}`, wantParams: map[string]string{"client_token": "t-1"}},
		{name: "download keep_alive: its progress is progress", rop: download("keep_alive"),
			input:  input(`"download_session_id":"d-1","progress":{"OPTIONAL":40}`),
			wantID: "d-1", wantBody: `{"progress":40}`},
		{name: "download keep_alive refuses an update session's client_progress", rop: download("keep_alive"),
			input:   input(`"download_session_id":"d-1","client_progress":{"OPTIONAL":40}`),
			wantErr: "client_progress must be a field of operation-input"},
		{name: "download fail: its message in a flat body", rop: download("fail"),
			input:  input(`"download_session_id":"d-1","client_error_message":"disk full"`),
			wantID: "d-1", wantBody: `{"client_error_message":"disk full"}`},
		{name: "download fail without its message is refused, as the bindings require it", rop: download("fail"),
			input: input(`"download_session_id":"d-1"`), wantErr: "client_error_message must be set"},
		{name: "download file get: the name in a flat body, as the /rest form has it",
			rop:    rpcOperations[rpcMethod{svcDownloadFiles, "get"}],
			input:  input(`"download_session_id":"d-1","file_name":"f"`),
			wantID: "d-1", wantBody: `{"file_name":"f"}`},
		{name: "download file prepare: name and endpoint type in a flat body",
			rop:    rpcOperations[rpcMethod{svcDownloadFiles, "prepare"}],
			input:  input(`"download_session_id":"d-1","file_name":"f","endpoint_type":{"OPTIONAL":"HTTPS"}`),
			wantID: "d-1", wantBody: `{"file_name":"f","endpoint_type":"HTTPS"}`},
		{name: "download file prepare without an endpoint type", rop: rpcOperations[rpcMethod{svcDownloadFiles, "prepare"}],
			input:  input(`"download_session_id":"d-1","file_name":"f","endpoint_type":{"OPTIONAL":null}`),
			wantID: "d-1", wantBody: `{"file_name":"f"}`},
		{name: "item file get: the item is the call's id, the name in a flat body",
			rop:    rpcOperations[rpcMethod{svcItemFiles, "get"}],
			input:  input(`"library_item_id":"i-1","name":"f"`),
			wantID: "i-1", wantBody: `{"name":"f"}`},
		{name: "item storage get: the file_name in a flat body",
			rop:    rpcOperations[rpcMethod{svcItemStorage, "get"}],
			input:  input(`"library_item_id":"i-1","file_name":"f"`),
			wantID: "i-1", wantBody: `{"file_name":"f"}`},
		{name: "a client token with a bell is refused as on the REST forms", rop: method("create"),
			input: input(`"client_token":{"OPTIONAL":"a\u0007b"},"create_spec":{"STRUCTURE":` +
				`{"com.vmware.content.library.item.update_session_model":{}}}`),
			wantErr: "client_token must be printable UTF-8 text"},
		{name: "progress of the wrong type is refused", rop: method("keep_alive"),
			input:   input(`"update_session_id":"s-1","client_progress":{"OPTIONAL":"40"}`),
			wantErr: "client_progress must be an integer"},
		{name: "a field the operation does not take is refused", rop: method("complete"),
			input:   input(`"update_session_id":"s-1","force":true`),
			wantErr: "force must be a field of operation-input"},
		{name: "no input is refused", rop: method("get"), input: `null`,
			wantErr: `the value must be {"STRUCTURE": {"operation-input": {...}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c call
			id, err := tc.rop.unpack(&c, []byte(tc.input))
			checkRefusal(t, err, tc.wantErr)
			if tc.wantErr != "" {
				return
			}
			if id != tc.wantID || string(c.body) != tc.wantBody || !cmp.Equal(c.params, tc.wantParams) {
				t.Errorf("id %q, body %s, params %v; want %q, %s, %v", id, c.body, c.params,
					tc.wantID, tc.wantBody, tc.wantParams)
			}
		})
	}
}

// TestRPCOutputsFitTheirTypes: the results the handlers return encode with the bindings'
// descriptions of the operations' outputs, so that the SDKs can read them.
func TestRPCOutputsFitTheirTypes(t *testing.T) {
	now := time.Date(2026, 12, 3, 18, 57, 57, 123456000, time.UTC)
	failed := &v1alpha1.UpdateSession{
		Spec: v1alpha1.UpdateSessionSpec{LibraryItemID: "i", LibraryItemContentVersion: "7",
			WarningBehavior: []v1alpha1.WarningBehavior{{Type: v1alpha1.WarningExpired, Ignored: true}}},
		Status: v1alpha1.UpdateSessionStatus{Lifecycle: v1alpha1.Lifecycle{ID: "s-1", State: v1alpha1.StateError, ClientProgress: 40,
			ExpirationTime: &metav1.MicroTime{Time: now}, ErrorMessage: "disk full"}},
	}
	failedDownload := &v1alpha1.DownloadSession{
		Spec: v1alpha1.DownloadSessionSpec{LibraryItemID: "i"},
		Status: v1alpha1.DownloadSessionStatus{ContentVersion: 3, Lifecycle: v1alpha1.Lifecycle{ID: "d-1",
			State: v1alpha1.StateError, ClientProgress: 40, ExpirationTime: &metav1.MicroTime{Time: now}, ErrorMessage: "disk full"}},
	}
	s := &Server{Clock: clocktesting.NewFakePassiveClock(now)}
	info, err := sessionInfo(s, t.Context(), call{caller: &auth.Caller{Info: &user.DefaultInfo{Name: "u"}}})
	if err != nil {
		t.Fatal(err)
	}
	method := func(service, op string) *rpcOperation { return rpcOperations[rpcMethod{service, op}] }
	cases := []struct {
		name   string
		rop    *rpcOperation
		result any
		want   string
	}{
		{"get: a model with every field", method(svcUpdateSession, "get"), toModel(failed),
			`{"STRUCTURE":{"com.vmware.content.library.item.update_session_model":{"id":{"OPTIONAL":"s-1"},` +
				`"library_item_id":{"OPTIONAL":"i"},"library_item_content_version":{"OPTIONAL":"7"},` +
				`"error_message":{"OPTIONAL":{"STRUCTURE":{"com.vmware.vapi.std.localizable_message":{"id":` +
				`"com.vmware.content.library.item.UpdateSession.client_error","default_message":"disk full","args":[],` +
				`"params":{"OPTIONAL":null},"localized":{"OPTIONAL":null}}}}},"client_progress":{"OPTIONAL":40},` +
				`"state":{"OPTIONAL":"ERROR"},"expiration_time":{"OPTIONAL":"2026-12-03T18:57:57.123Z"},` +
				`"preview_info":{"OPTIONAL":null},"warning_behavior":{"OPTIONAL":[{"STRUCTURE":` +
				`{"com.vmware.content.library.item.updatesession.warning_behavior":` +
				`{"type":"EXPIRED_CERTIFICATE","ignored":true}}}]}}}}`},
		{"get: an ACTIVE session's model has its preview, NOT_APPLICABLE", method(svcUpdateSession, "get"),
			toModel(&v1alpha1.UpdateSession{Status: v1alpha1.UpdateSessionStatus{Lifecycle: v1alpha1.Lifecycle{ID: "s-2", State: v1alpha1.StateActive}}}),
			`{"STRUCTURE":{"com.vmware.content.library.item.update_session_model":{"id":{"OPTIONAL":"s-2"},` +
				`"library_item_id":{"OPTIONAL":""},"library_item_content_version":{"OPTIONAL":null},` +
				`"error_message":{"OPTIONAL":null},"client_progress":{"OPTIONAL":0},"state":{"OPTIONAL":"ACTIVE"},` +
				`"expiration_time":{"OPTIONAL":null},"preview_info":{"OPTIONAL":{"STRUCTURE":` +
				`{"com.vmware.content.library.item.updatesession.preview_info":{"state":"NOT_APPLICABLE",` +
				`"certificate_info":{"OPTIONAL":null},"warnings":{"OPTIONAL":null},"cert_chain":{"OPTIONAL":null}}}}},` +
				`"warning_behavior":{"OPTIONAL":[]}}}}`},
		{"create: the id", method(svcUpdateSession, "create"), "s-1", `"s-1"`},
		{"list: the ids", method(svcUpdateSession, "list"), []string{"s-1", "s-2"}, `["s-1","s-2"]`},
		{"keep_alive: void", method(svcUpdateSession, "keep_alive"), nil, `null`},
		{"session create: a secret", method(svcSession, "create"), "0123", `{"SECRET":"0123"}`},
		{"session get: its info", method(svcSession, "get"), info,
			`{"STRUCTURE":{"com.vmware.cis.session.info":{"user":"u","created_time":"2026-12-03T18:57:57.123Z",` +
				`"last_accessed_time":"2026-12-03T18:57:57.123Z"}}}`},
		{"download-session list: no ids", method(svcDownloadSession, "list"), []string{}, `[]`},
		{"download-session get: a failed session's model", method(svcDownloadSession, "get"), toDownloadModel(failedDownload),
			`{"STRUCTURE":{"com.vmware.content.library.item.download_session_model":{"id":{"OPTIONAL":"d-1"},` +
				`"library_item_id":{"OPTIONAL":"i"},"library_item_content_version":{"OPTIONAL":"3"},` +
				`"error_message":{"OPTIONAL":{"STRUCTURE":{"com.vmware.vapi.std.localizable_message":{"id":` +
				`"com.vmware.content.library.item.DownloadSession.client_error","default_message":"disk full","args":[],` +
				`"params":{"OPTIONAL":null},"localized":{"OPTIONAL":null}}}}},"client_progress":{"OPTIONAL":40},` +
				`"state":{"OPTIONAL":"ERROR"},"expiration_time":{"OPTIONAL":"2026-12-03T18:57:57.123Z"}}}}`},
		{"download-session get: a session of an item without content", method(svcDownloadSession, "get"),
			toDownloadModel(&v1alpha1.DownloadSession{Spec: v1alpha1.DownloadSessionSpec{LibraryItemID: "i"},
				Status: v1alpha1.DownloadSessionStatus{Lifecycle: v1alpha1.Lifecycle{ID: "d-2", State: v1alpha1.StateActive}}}),
			`{"STRUCTURE":{"com.vmware.content.library.item.download_session_model":{"id":{"OPTIONAL":"d-2"},` +
				`"library_item_id":{"OPTIONAL":"i"},"library_item_content_version":{"OPTIONAL":null},` +
				`"error_message":{"OPTIONAL":null},"client_progress":{"OPTIONAL":0},"state":{"OPTIONAL":"ACTIVE"},` +
				`"expiration_time":{"OPTIONAL":null}}}}`},
		{"download-session create: the id", method(svcDownloadSession, "create"), "d-1", `"d-1"`},
		{"download-session cancel: void", method(svcDownloadSession, "cancel"), nil, `null`},
		{"download file prepare: a PREPARED file", method(svcDownloadFiles, "prepare"), downloadFileInfo{Name: "disk.vmdk",
			Size: new(int64(5)), BytesTransferred: 5, Status: "PREPARED",
			DownloadEndpoint: &transferEndpoint{URI: "https://h/transfer/x"},
			ChecksumInfo:     &checksumInfo{Algorithm: "SHA256", Checksum: "ab"}},
			`{"STRUCTURE":{"com.vmware.content.library.item.downloadsession.file.info":{"name":"disk.vmdk",` +
				`"size":{"OPTIONAL":5},"bytes_transferred":5,"status":"PREPARED","download_endpoint":{"OPTIONAL":` +
				`{"STRUCTURE":{"com.vmware.content.library.item.transfer_endpoint":{"uri":"https://h/transfer/x",` +
				`"ssl_certificate_thumbprint":{"OPTIONAL":null},"ssl_certificate":{"OPTIONAL":null}}}}},` +
				`"checksum_info":{"OPTIONAL":{"STRUCTURE":{"com.vmware.content.library.item.file.checksum_info":` +
				`{"algorithm":{"OPTIONAL":"SHA256"},"checksum":"ab"}}}},"error_message":{"OPTIONAL":null}}}}`},
		{"download file list: a file in ERROR", method(svcDownloadFiles, "list"), []downloadFileInfo{{Name: "f",
			Status: "ERROR", ErrorMessage: &vapi.Message{ID: "m", DefaultMessage: "gone", Args: []string{}}}},
			`[{"STRUCTURE":{"com.vmware.content.library.item.downloadsession.file.info":{"name":"f",` +
				`"size":{"OPTIONAL":null},"bytes_transferred":0,"status":"ERROR","download_endpoint":{"OPTIONAL":null},` +
				`"checksum_info":{"OPTIONAL":null},"error_message":{"OPTIONAL":{"STRUCTURE":` +
				`{"com.vmware.vapi.std.localizable_message":{"id":"m","default_message":"gone","args":[],` +
				`"params":{"OPTIONAL":null},"localized":{"OPTIONAL":null}}}}}}}}]`},
		{"file add: its info", method(svcSessionFiles, "add"), fileInfo{Name: "disk.vmdk", SourceType: "PUSH",
			Size: new(int64(5)), ChecksumInfo: &checksumInfo{Algorithm: "SHA256", Checksum: "ab"},
			UploadEndpoint: &transferEndpoint{URI: "https://h/transfer/x"}, Status: "WAITING_FOR_TRANSFER"},
			`{"STRUCTURE":{"com.vmware.content.library.item.updatesession.file.info":{"name":"disk.vmdk",` +
				`"source_type":"PUSH","size":{"OPTIONAL":5},"checksum_info":{"OPTIONAL":{"STRUCTURE":` +
				`{"com.vmware.content.library.item.file.checksum_info":{"algorithm":{"OPTIONAL":"SHA256"},` +
				`"checksum":"ab"}}}},"source_endpoint":{"OPTIONAL":null},"upload_endpoint":{"OPTIONAL":{"STRUCTURE":` +
				`{"com.vmware.content.library.item.transfer_endpoint":{"uri":"https://h/transfer/x",` +
				`"ssl_certificate_thumbprint":{"OPTIONAL":null},"ssl_certificate":{"OPTIONAL":null}}}}},` +
				`"bytes_transferred":0,"status":"WAITING_FOR_TRANSFER","error_message":{"OPTIONAL":null},` +
				`"keep_in_storage":{"OPTIONAL":false}}}}`},
		{"item file get: a file with its checksum", method(svcItemFiles, "get"), itemFileInfo{
			ChecksumInfo: &checksumInfo{Algorithm: "SHA256", Checksum: "ab"}, Name: "f", Size: 5, Version: "2"},
			`{"STRUCTURE":{"com.vmware.content.library.item.file.info":{"checksum_info":{"OPTIONAL":{"STRUCTURE":` +
				`{"com.vmware.content.library.item.file.checksum_info":{"algorithm":{"OPTIONAL":"SHA256"},"checksum":"ab"}}}},` +
				`"name":"f","size":5,"cached":false,"version":"2"}}}`},
		{"item storage get: a list of one", method(svcItemStorage, "get"), []itemStorageInfo{{
			StorageBacking: storageBacking{Type: "OTHER", StorageURI: "s3://b"}, StorageURIs: []string{"s3://b/k"},
			itemFileInfo: itemFileInfo{Name: "f", Size: 5, Version: "2"}}},
			`[{"STRUCTURE":{"com.vmware.content.library.item.storage.info":{"storage_backing":{"STRUCTURE":` +
				`{"com.vmware.content.library.storage_backing":{"type":{"OPTIONAL":"OTHER"},"datastore_id":{"OPTIONAL":null},` +
				`"storage_uri":{"OPTIONAL":"s3://b"}}}},"storage_uris":["s3://b/k"],"checksum_info":{"OPTIONAL":null},` +
				`"name":"f","size":5,"cached":false,"version":"2"}}}]`},
		{"file validate: missing and invalid files", method(svcSessionFiles, "validate"), validationResult{
			HasErrors: true, MissingFiles: []string{"a"},
			InvalidFiles: []validationError{{Name: "b", ErrorMessage: vapi.Message{ID: "m", DefaultMessage: "bad", Args: []string{}}}}},
			`{"STRUCTURE":{"com.vmware.content.library.item.updatesession.file.validation_result":{"has_errors":true,` +
				`"missing_files":["a"],"invalid_files":[{"STRUCTURE":{"com.vmware.content.library.item.updatesession.` +
				`file.validation_error":{"name":"b","error_message":{"STRUCTURE":{"com.vmware.vapi.std.localizable_message":` +
				`{"id":"m","default_message":"bad","args":[],"params":{"OPTIONAL":null},"localized":{"OPTIONAL":null}}}}}}}]}}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := encodeOutput(tc.rop, tc.result)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRPCDownloadAndItemOperationsAreTheRESTForms: each download-session and item call of the
// JSON-RPC wire runs the very entry of the operation table that the REST forms route to, named
// by the input field the bindings give, and the file service's calls carry the origin their
// endpoints are advertised at. Of the two entries of a get, it runs the /rest form's, whose body
// holds the file's name as the call's input does.
func TestRPCDownloadAndItemOperationsAreTheRESTForms(t *testing.T) {
	session := func(method string, item bool, action string) *operation {
		return downloadOperations[route{method, item, action}]
	}
	file := func(method, action string) *operation {
		return contentOperations[contentRoute{method, downloadFiles, action}]
	}
	item := func(shape shape, method, action string) *operation {
		return contentOperations[contentRoute{method, shape, action}]
	}
	cases := []struct {
		service, operation string
		want               *operation
		id                 string
		origin             bool
	}{
		{svcDownloadSession, "create", session(http.MethodPost, false, ""), "", false},
		{svcDownloadSession, "list", session(http.MethodGet, false, ""), "", false},
		{svcDownloadSession, "get", session(http.MethodGet, true, ""), downloadSessionIDField, false},
		{svcDownloadSession, "keep_alive", session(http.MethodPost, true, actionKeepAlive), downloadSessionIDField, false},
		{svcDownloadSession, "cancel", session(http.MethodPost, true, actionCancel), downloadSessionIDField, false},
		{svcDownloadSession, "fail", session(http.MethodPost, true, actionFail), downloadSessionIDField, false},
		{svcDownloadSession, "delete", session(http.MethodDelete, true, ""), downloadSessionIDField, false},
		{svcDownloadFiles, "list", file(http.MethodGet, ""), downloadSessionIDField, true},
		{svcDownloadFiles, "get", file(http.MethodPost, actionGet), downloadSessionIDField, true},
		{svcDownloadFiles, "prepare", file(http.MethodPost, actionPrepare), downloadSessionIDField, true},
		{svcItemFiles, "list", item(itemFiles, http.MethodGet, ""), paramLibraryItemID, false},
		{svcItemFiles, "get", item(itemFiles, http.MethodPost, actionGet), paramLibraryItemID, false},
		{svcItemStorage, "list", item(itemStorage, http.MethodGet, ""), paramLibraryItemID, false},
		{svcItemStorage, "get", item(itemStorage, http.MethodPost, actionGet), paramLibraryItemID, false},
	}
	for _, tc := range cases {
		t.Run(tc.service+"."+tc.operation, func(t *testing.T) {
			rop := rpcOperations[rpcMethod{tc.service, tc.operation}]
			switch {
			case rop == nil:
				t.Fatal("not served")
			case tc.want == nil:
				t.Fatal("the REST forms have no such entry")
			case rop.op != tc.want:
				t.Errorf("runs %s (params %v), not the REST forms' entry %s (params %v)", rop.op.name, rop.op.params,
					tc.want.name, tc.want.params)
			case rop.id != tc.id || rop.origin != tc.origin || rop.fixed:
				t.Errorf("id field %q, origin %v, fixed %v; want %q, %v, false", rop.id, rop.origin, rop.fixed, tc.id, tc.origin)
			}
		})
	}
}

// TestRPCCredentials: the security context's schemes give the credentials the REST forms take
// from headers; a session id in the header overrides it, as VMware's server lets it.
func TestRPCCredentials(t *testing.T) {
	// ctx is a security context as a request spells it: each member a JSON string, or absent.
	ctx := func(scheme, name, password, session string) *securityContext {
		quoted := func(s string) []byte {
			if s == "" {
				return nil
			}
			return []byte(strconv.Quote(s))
		}
		return &securityContext{schemeID: quoted(scheme), userName: quoted(name), password: quoted(password),
			sessionID: quoted(session)}
	}
	cases := []struct {
		name    string
		sc      *securityContext
		header  []string
		want    auth.Credential
		wantErr bool
	}{
		{name: "user/password: the password is the token", want: auth.Credential{Token: "tok", Basic: true, User: "u"},
			sc: ctx(schemeUserPassword, "u", "tok", "")},
		{name: "session id", want: auth.Credential{Token: "0123", Session: true}, sc: ctx(schemeSessionID, "", "", "0123")},
		{name: "a session id in the header overrides the context", want: auth.Credential{Token: "0456", Session: true},
			sc: ctx(schemeUserPassword, "u", "tok", ""), header: []string{auth.SessionIDHeader, "0456"}},
		{name: "no context: a bearer token in the header", want: auth.Credential{Token: "tok"}, sc: ctx("", "", "", ""),
			header: []string{"Authorization", "Bearer tok"}},
		{name: "a SAML token is refused", sc: ctx("com.vmware.vapi.std.security.saml_bearer_token", "", "", ""),
			wantErr: true},
		{name: "an empty password is refused", sc: ctx(schemeUserPassword, "u", "", ""), wantErr: true},
		{name: "no context and no header is refused", sc: ctx("", "", "", ""), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, jsonrpcPath, nil)
			for i := 0; i+1 < len(tc.header); i += 2 {
				r.Header.Set(tc.header[i], tc.header[i+1])
			}
			got, err := rpcCredentials(r, tc.sc)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestReadRPCRequest: requests that are no vAPI call get JSON-RPC's own errors.
func TestReadRPCRequest(t *testing.T) {
	const params = `"params":{"serviceId":"s","operationId":"o","input":null,"ctx":{}}`
	cases := []struct {
		name     string
		body     string
		header   []string
		wantCode int // 0: read
	}{
		{name: "a call of invoke", body: `{"jsonrpc":"2.0","method":"invoke","id":"1",` + params + `}`},
		{name: "a numeric id", body: `{"jsonrpc":"2.0","method":"invoke","id":1,` + params + `}`},
		{name: "not JSON", body: `{"jsonrpc":`, wantCode: rpcParseError},
		{name: "JSON-RPC 1.0", body: `{"method":"invoke","id":"1",` + params + `}`, wantCode: rpcInvalidRequest},
		{name: "an object as id", body: `{"jsonrpc":"2.0","method":"invoke","id":{},` + params + `}`,
			wantCode: rpcInvalidRequest},
		{name: "params of the wrong type", body: `{"jsonrpc":"2.0","method":"invoke","id":"1","params":[]}`,
			wantCode: rpcInvalidRequest},
		{name: "another method", body: `{"jsonrpc":"2.0","method":"list","id":"1",` + params + `}`,
			wantCode: rpcMethodNotFound},
		{name: "no params", body: `{"jsonrpc":"2.0","method":"invoke","id":"1"}`, wantCode: rpcInvalidParams},
		{name: "headers that name another operation", body: `{"jsonrpc":"2.0","method":"invoke","id":"1",` + params + `}`,
			header: []string{"vapi-service", "s", "vapi-operation", "other"}, wantCode: rpcInvalidOperation},
		{name: "headers that name the same operation", body: `{"jsonrpc":"2.0","method":"invoke","id":"1",` + params + `}`,
			header: []string{"vapi-service", "s", "vapi-operation", "o"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, jsonrpcPath, strings.NewReader(tc.body))
			for i := 0; i+1 < len(tc.header); i += 2 {
				r.Header.Set(tc.header[i], tc.header[i+1])
			}
			var req rpcRequest
			rerr := readRPCRequest(httptest.NewRecorder(), r, &req)
			req.release()
			code := 0
			if rerr != nil {
				code = rerr.code
			}
			if code != tc.wantCode {
				t.Errorf("code %d (%+v), want %d", code, rerr, tc.wantCode)
			}
		})
	}
}
