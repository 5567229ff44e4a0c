package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// pythonSDK returns the folder of VMware's Python SDK that hack/python-sdk.sh extracts: make test
// names it in PYTHON_SDK. Run alone, the test finds it in bin/, or is skipped with the command
// that makes it; named but missing, it fails.
func pythonSDK(t *testing.T) string {
	t.Helper()
	dir, named := os.LookupEnv("PYTHON_SDK")
	if !named {
		dir = filepath.Join("..", "..", "bin", "python-sdk")
	}
	if _, err := os.Stat(filepath.Join(dir, "vmware", "vapi")); err != nil {
		if !named {
			t.Skip("VMware's Python SDK is not extracted: run make python-sdk, or make test")
		}
		t.Fatalf("PYTHON_SDK=%q holds no Python SDK: %v", dir, err)
	}
	return dir
}

// sdkModel is an UpdateSessionModel as the SDK's get returned it (testdata/vapi_sdk.py).
type sdkModel struct {
	ID                string  `json:"id"`
	LibraryItemID     string  `json:"library_item_id"`
	State             string  `json:"state"`
	ClientProgress    int64   `json:"client_progress"`
	HasExpirationTime bool    `json:"has_expiration_time"`
	ErrorMessage      *string `json:"error_message"`
	WarningBehavior   [][]any `json:"warning_behavior"`
}

// sdkRefusal is the exception a call raised in the SDK: its class, and the first message.
type sdkRefusal struct {
	Class   string `json:"class"`
	Message string `json:"message"`
}

// sdkSeen is what testdata/vapi_sdk.py saw.
type sdkSeen struct {
	SessionUser       string            `json:"session_user"`
	RetrySameID       bool              `json:"retry_same_id"`
	Listed            bool              `json:"listed"`
	ListedByItem      bool              `json:"listed_by_item"`
	Created           sdkModel          `json:"created"`
	KeptAlive         sdkModel          `json:"kept_alive"`
	Updated           sdkModel          `json:"updated"`
	Completed         sdkModel          `json:"completed"`
	Failed            sdkModel          `json:"failed"`
	Canceled          sdkModel          `json:"canceled"`
	ProgressBackwards sdkRefusal        `json:"progress_backwards"`
	BadWarning        sdkRefusal        `json:"bad_warning"`
	SecondOnItem      sdkRefusal        `json:"second_on_item"`
	DeleteActive      sdkRefusal        `json:"delete_active"`
	KeepAliveDone     sdkRefusal        `json:"keep_alive_done"`
	Deleted           sdkRefusal        `json:"deleted"`
	Unknown           sdkRefusal        `json:"unknown"`
	ForgedSession     sdkRefusal        `json:"forged_session"`
	WrongPassword     sdkRefusal        `json:"wrong_password"`
	IDs               map[string]string `json:"ids"`
}

// TestPythonSDK drives the operator with VMware's Python SDK through its UpdateSession stubs over
// the JSON-RPC wire: login with the token as the password, every operation, and each error as
// the SDK's own exception class.
func TestPythonSDK(t *testing.T) {
	sdk := pythonSDK(t)
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	seen := runSDK(t, sdk, srv, tokens[srv])

	const errs = "com.vmware.vapi.std.errors_client."
	model := func(id, item, state string, progress int64, wb ...[]any) sdkModel {
		return sdkModel{ID: id, LibraryItemID: item, State: state, ClientProgress: progress,
			HasExpirationTime: true, WarningBehavior: append([][]any{}, wb...)}
	}
	first, failed, canceled := seen.IDs["first"], seen.IDs["failed"], seen.IDs["canceled"]
	selfSigned := []any{"SELF_SIGNED_CERTIFICATE", true}
	expired := []any{"EXPIRED_CERTIFICATE", false}
	diskFull := "disk full"
	want := sdkSeen{
		SessionUser: "system:serviceaccount:" + ns + ":uploader",
		RetrySameID: true, Listed: true, ListedByItem: true,
		Created:           model(first, "item-a", "ACTIVE", 0, selfSigned),
		KeptAlive:         model(first, "item-a", "ACTIVE", 40, selfSigned),
		Updated:           model(first, "item-a", "ACTIVE", 40, expired),
		Completed:         model(first, "item-a", "DONE", 40, expired),
		Failed:            model(failed, "item-b", "ERROR", 0),
		Canceled:          model(canceled, "item-c", "CANCELED", 0),
		ProgressBackwards: sdkRefusal{Class: errs + "InvalidArgument"},
		BadWarning:        sdkRefusal{Class: errs + "InvalidArgument"},
		SecondOnItem:      sdkRefusal{Class: errs + "ResourceBusy"},
		DeleteActive:      sdkRefusal{Class: errs + "NotAllowedInCurrentState"},
		KeepAliveDone:     sdkRefusal{Class: errs + "NotAllowedInCurrentState"},
		Deleted:           sdkRefusal{Class: errs + "NotFound"},
		Unknown:           sdkRefusal{Class: errs + "NotFound"},
		ForgedSession:     sdkRefusal{Class: errs + "Unauthenticated"},
		WrongPassword:     sdkRefusal{Class: errs + "Unauthenticated"},
		IDs:               seen.IDs,
	}
	want.Failed.ErrorMessage = &diskFull
	ignoreMessages := cmp.Transformer("class", func(r sdkRefusal) string { return r.Class })
	if diff := cmp.Diff(want, seen, ignoreMessages); diff != "" {
		t.Errorf("what the SDK saw (-want +got):\n%s", diff)
	}
	for name, r := range map[string]sdkRefusal{"progress_backwards": seen.ProgressBackwards,
		"deleted": seen.Deleted, "wrong_password": seen.WrongPassword} {
		if r.Message == "" {
			t.Errorf("%s: the SDK's exception carries no message", name)
		}
	}

	// What the SDK was told is what the API server holds.
	assertGone(t, ns, first)
	if us := byID(t, ns, failed); us.Status.State != v1alpha1.StateError || us.Status.ErrorMessage != diskFull {
		t.Errorf("the failed session is %s (%q), want ERROR (%q)", us.Status.State, us.Status.ErrorMessage, diskFull)
	}
	if us := byID(t, ns, canceled); us.Status.State != v1alpha1.StateCanceled {
		t.Errorf("the canceled session is %s", us.Status.State)
	}
}

// TestPythonSDKVsphereClient: the SDK's own entry point, create_vsphere_client, as the README
// shows it: HTTPS, the token as the password, the content stubs of the client it returns.
func TestPythonSDKVsphereClient(t *testing.T) {
	sdk := pythonSDK(t)
	ns := env.Namespace(t)
	dir := t.TempDir()
	writeCert(t, dir, "127.0.0.1")
	op := env.StartOperator(t, ns, operator.Options{
		Policy:      session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour},
		RESTCertDir: dir,
	})
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	var seen struct {
		ID        string   `json:"id"`
		KeptAlive sdkModel `json:"kept_alive"`
		Completed sdkModel `json:"completed"`
	}
	runPython(t, sdk, &seen, "--vsphere-client", strings.TrimPrefix(op.RESTURL, "https://"), token)
	model := sdkModel{ID: seen.ID, LibraryItemID: "ova-item-1", State: "ACTIVE", ClientProgress: 50,
		HasExpirationTime: true, WarningBehavior: [][]any{}}
	if diff := cmp.Diff(model, seen.KeptAlive); diff != "" {
		t.Errorf("the session kept alive (-want +got):\n%s", diff)
	}
	model.State = "DONE"
	if diff := cmp.Diff(model, seen.Completed); diff != "" {
		t.Errorf("the session completed (-want +got):\n%s", diff)
	}
	if us := byID(t, ns, seen.ID); us.Status.State != v1alpha1.StateDone || us.Status.ClientProgress != 50 {
		t.Errorf("the session is %s at %d%%, want DONE at 50%%", us.Status.State, us.Status.ClientProgress)
	}
}

// TestPythonSDKFiles drives the update-session file service through the SDK's File stubs: add
// a PUSH file with its size and checksum, send its bytes to the upload endpoint add answered,
// read it back, list, remove, validate, complete.
func TestPythonSDKFiles(t *testing.T) {
	sdk := pythonSDK(t)
	ns := env.Namespace(t)
	srv := startTransfers(t, ns, nil)
	var seen struct {
		Added struct {
			Status    string `json:"status"`
			UploadURI bool   `json:"upload_uri"`
		} `json:"added"`
		PutStatus int `json:"put_status"`
		Got       struct {
			Status           string `json:"status"`
			BytesTransferred int64  `json:"bytes_transferred"`
		} `json:"got"`
		Listed    []string `json:"listed"`
		Validated struct {
			HasErrors    bool     `json:"has_errors"`
			MissingFiles []string `json:"missing_files"`
		} `json:"validated"`
		UnknownFile sdkRefusal `json:"unknown_file"`
		State       string     `json:"state"`
		ItemFiles   []struct {
			Name     string `json:"name"`
			Size     int64  `json:"size"`
			Checksum string `json:"checksum"`
			Version  string `json:"version"`
		} `json:"item_files"`
		ItemFileSize int64 `json:"item_file_size"`
		ItemStorage  []struct {
			Name    string `json:"name"`
			Backing string `json:"backing"`
			URIs    int    `json:"uris"`
		} `json:"item_storage"`
		ItemStorageListed []string   `json:"item_storage_listed"`
		UnknownItemFile   sdkRefusal `json:"unknown_item_file"`
	}
	grantItemReads(t, ns, "uploader")
	runPython(t, sdk, &seen, "--files", srv.url, tokens[srv.url])
	const payload = "the bytes of a disk"
	sum := sha256.Sum256([]byte(payload))
	switch {
	case seen.Added.Status != "WAITING_FOR_TRANSFER" || !seen.Added.UploadURI:
		t.Errorf("add answered %+v, want WAITING_FOR_TRANSFER with an upload endpoint", seen.Added)
	case seen.PutStatus >= 300:
		t.Errorf("the PUT to the upload endpoint answered %d", seen.PutStatus)
	case seen.Got.Status != "READY" || seen.Got.BytesTransferred != int64(len(payload)):
		t.Errorf("get answered %+v, want READY with %d bytes", seen.Got, len(payload))
	case !slices.Equal(seen.Listed, []string{"disk.vmdk"}):
		t.Errorf("list answered %v, want the one file left", seen.Listed)
	case seen.Validated.HasErrors || len(seen.Validated.MissingFiles) > 0:
		t.Errorf("validate answered %+v, want no errors", seen.Validated)
	case !strings.HasPrefix(seen.UnknownFile.Class, "com.vmware.vapi.std.errors_client."):
		t.Errorf("get of an unknown file raised %+v, want a standard error", seen.UnknownFile)
	case seen.State != "DONE":
		t.Errorf("the session is %s after complete, want DONE", seen.State)
	case len(seen.ItemFiles) != 1 || seen.ItemFiles[0].Name != "disk.vmdk" || seen.ItemFiles[0].Size != int64(len(payload)) ||
		seen.ItemFiles[0].Checksum != hex.EncodeToString(sum[:]) || seen.ItemFiles[0].Version != "1":
		t.Errorf("the item's File.list answered %+v, want disk.vmdk of version 1 with its size and checksum", seen.ItemFiles)
	case seen.ItemFileSize != int64(len(payload)):
		t.Errorf("the item's File.get answered size %d, want %d", seen.ItemFileSize, len(payload))
	case len(seen.ItemStorage) != 1 || seen.ItemStorage[0].Name != "disk.vmdk" || seen.ItemStorage[0].Backing != "OTHER" ||
		!slices.Equal(seen.ItemStorageListed, []string{"disk.vmdk"}):
		t.Errorf("the item's Storage.get answered %+v and list %v, want disk.vmdk on an OTHER backing", seen.ItemStorage,
			seen.ItemStorageListed)
	case seen.UnknownItemFile.Class != "com.vmware.vapi.std.errors_client.NotFound":
		t.Errorf("the item's File.get of an unknown file raised %+v, want NotFound", seen.UnknownItemFile)
	}
}

// sdkDownloadModel is a DownloadSessionModel as the SDK's get returned it (testdata/vapi_sdk.py).
type sdkDownloadModel struct {
	ID                string  `json:"id"`
	LibraryItemID     string  `json:"library_item_id"`
	HasContentVersion bool    `json:"has_content_version"`
	State             string  `json:"state"`
	ClientProgress    int64   `json:"client_progress"`
	HasExpirationTime bool    `json:"has_expiration_time"`
	ErrorMessage      *string `json:"error_message"`
}

// sdkDownloadsSeen is what testdata/vapi_sdk.py --downloads saw.
type sdkDownloadsSeen struct {
	Uploaded        string           `json:"uploaded"`
	RetrySameID     bool             `json:"retry_same_id"`
	Created         sdkDownloadModel `json:"created"`
	Listed          bool             `json:"listed"`
	ListedByItem    bool             `json:"listed_by_item"`
	ListedOtherItem []string         `json:"listed_other_item"`
	// Files are each file's name, status, and whether it has no download endpoint.
	Files    [][]any `json:"files"`
	Prepared string  `json:"prepared"`
	Got      struct {
		Status          string `json:"status"`
		Size            int64  `json:"size"`
		Algorithm       string `json:"algorithm"`
		ChecksumMatches bool   `json:"checksum_matches"`
	} `json:"got"`
	Fetched struct {
		Status    int  `json:"status"`
		SameBytes bool `json:"same_bytes"`
	} `json:"fetched"`
	KeptAlive           sdkDownloadModel  `json:"kept_alive"`
	UnknownFileGet      sdkRefusal        `json:"unknown_file_get"`
	UnknownFilePrepare  sdkRefusal        `json:"unknown_file_prepare"`
	UnknownSession      sdkRefusal        `json:"unknown_session"`
	UnknownSessionFiles sdkRefusal        `json:"unknown_session_files"`
	Failed              sdkDownloadModel  `json:"failed"`
	Canceled            sdkDownloadModel  `json:"canceled"`
	KeepAliveCanceled   sdkRefusal        `json:"keep_alive_canceled"`
	CancelCanceled      sdkRefusal        `json:"cancel_canceled"`
	Deleted             sdkRefusal        `json:"deleted"`
	ListedAfterDelete   []string          `json:"listed_after_delete"`
	IDs                 map[string]string `json:"ids"`
}

// TestPythonSDKDownloads drives the download services through the SDK's DownloadSession and
// downloadsession File stubs: a file committed through an update session is read back through
// a download session created with a client token, its file prepared, polled to PREPARED and
// fetched from its download endpoint with plain HTTP; keep-alive with progress, fail, cancel
// and delete; and each error as the SDK's own exception class.
func TestPythonSDKDownloads(t *testing.T) {
	sdk := pythonSDK(t)
	ns := env.Namespace(t)
	srv := startTransfers(t, ns, nil)
	var seen sdkDownloadsSeen
	runPython(t, sdk, &seen, "--downloads", srv.url, tokens[srv.url])

	const errs = "com.vmware.vapi.std.errors_client."
	const payload = "the bytes of a disk, read back"
	first, failed := seen.IDs["first"], seen.IDs["failed"]
	model := func(id, state string, progress int64) sdkDownloadModel {
		return sdkDownloadModel{ID: id, LibraryItemID: "item-dl", HasContentVersion: true, State: state,
			ClientProgress: progress, HasExpirationTime: true}
	}
	diskFull := "disk full"
	want := sdkDownloadsSeen{
		Uploaded: "DONE", RetrySameID: true, Listed: true, ListedByItem: true, ListedOtherItem: []string{},
		Created:  model(first, "ACTIVE", 0),
		Files:    [][]any{{"disk.vmdk", "UNPREPARED", true}},
		Prepared: "PREPARED",
		Got: struct {
			Status          string `json:"status"`
			Size            int64  `json:"size"`
			Algorithm       string `json:"algorithm"`
			ChecksumMatches bool   `json:"checksum_matches"`
		}{"PREPARED", int64(len(payload)), "SHA256", true},
		Fetched: struct {
			Status    int  `json:"status"`
			SameBytes bool `json:"same_bytes"`
		}{http.StatusOK, true},
		KeptAlive:           model(first, "ACTIVE", 100),
		UnknownFileGet:      sdkRefusal{Class: errs + "InvalidArgument"},
		UnknownFilePrepare:  sdkRefusal{Class: errs + "InvalidArgument"},
		UnknownSession:      sdkRefusal{Class: errs + "NotFound"},
		UnknownSessionFiles: sdkRefusal{Class: errs + "NotFound"},
		Failed:              model(failed, "ERROR", 0),
		Canceled:            model(first, "CANCELED", 100),
		KeepAliveCanceled:   sdkRefusal{Class: errs + "NotAllowedInCurrentState"},
		CancelCanceled:      sdkRefusal{Class: errs + "NotAllowedInCurrentState"},
		Deleted:             sdkRefusal{Class: errs + "NotFound"},
		ListedAfterDelete:   []string{},
		IDs:                 seen.IDs,
	}
	want.Failed.ErrorMessage = &diskFull
	ignoreMessages := cmp.Transformer("class", func(r sdkRefusal) string { return r.Class })
	if diff := cmp.Diff(want, seen, ignoreMessages); diff != "" {
		t.Errorf("what the SDK saw (-want +got):\n%s", diff)
	}
	if first == "" || first == failed {
		t.Errorf("the sessions' ids are %q and %q", first, failed)
	}
	for name, r := range map[string]sdkRefusal{"unknown_file_get": seen.UnknownFileGet,
		"unknown_session": seen.UnknownSession, "keep_alive_canceled": seen.KeepAliveCanceled} {
		if r.Message == "" {
			t.Errorf("%s: the SDK's exception carries no message", name)
		}
	}
	var left v1alpha1.DownloadSessionList
	if err := env.Client.List(context.Background(), &left, client.InNamespace(ns)); err != nil || len(left.Items) > 0 {
		t.Errorf("download sessions left after delete: %d, %v", len(left.Items), err)
	}
}

// runSDK runs testdata/vapi_sdk.py against srv as the caller of token and returns what it saw.
func runSDK(t *testing.T, sdk, srv, token string) sdkSeen {
	t.Helper()
	var seen sdkSeen
	runPython(t, sdk, &seen, srv, token)
	return seen
}

// runPython runs testdata/vapi_sdk.py with args and decodes what it printed into seen.
func runPython(t *testing.T, sdk string, seen any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Debian's Python: the SDK's dependencies are Debian's packages (see hack/python-sdk.sh).
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", append([]string{filepath.Join("testdata", "vapi_sdk.py")}, args...)...)
	// requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE override a session's verify: without
	// them, the script's verify=False for the test's self-signed certificate holds.
	environ := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "REQUESTS_CA_BUNDLE=") || strings.HasPrefix(kv, "CURL_CA_BUNDLE=")
	})
	cmd.Env = append(environ, "PYTHONPATH="+sdk, "PYTHONDONTWRITEBYTECODE=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("vapi_sdk.py: %v\n%s", err, errOut.String())
	}
	t.Logf("vapi_sdk.py saw:\n%s", out.String())
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(seen); err != nil {
		t.Fatalf("vapi_sdk.py printed no result: %v\n%s", err, out.String())
	}
}

// rpcCall is a JSON-RPC call of the update-session service as the Python SDK sends it, with
// the caller's token in the user/password scheme.
func rpcCall(operation, input, token string) string {
	return rpcCallOf("com.vmware.content.library.item.update_session", operation, input, token)
}

// rpcCallOf is rpcCall of another service.
func rpcCallOf(service, operation, input, token string) string {
	return `{"jsonrpc":"2.0","method":"invoke","id":"7","params":{"serviceId":"` + service +
		`","operationId":"` + operation + `","input":` + input +
		`,"ctx":{"appCtx":{},"securityCtx":{"schemeId":"com.vmware.vapi.std.security.user_pass",` +
		`"userName":"u","password":"` + token + `"}}}}`
}

// TestJSONRPCWire checks the wire itself, as the SDKs rely on it: every call that is read is
// answered 200 with its id, a vAPI error in the result and named in vapi-error, a request that
// is no vAPI call with JSON-RPC's own error, and RBAC applies as on the REST forms.
func TestJSONRPCWire(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	token := tokens[srv]
	reader := env.ServiceAccount(t, ns, "reader", "get", "list").Token
	createInput := `{"STRUCTURE":{"operation-input":{"client_token":{"OPTIONAL":null},"create_spec":{"STRUCTURE":` +
		`{"com.vmware.content.library.item.update_session_model":{"library_item_id":{"OPTIONAL":"wire"}}}}}}}`
	const downloadService = "com.vmware.content.library.item.download_session"
	downloadCreate := `{"STRUCTURE":{"operation-input":{"create_spec":{"STRUCTURE":` +
		`{"com.vmware.content.library.item.download_session_model":{"library_item_id":{"OPTIONAL":"wire"}}}}}}}`
	tests := []struct {
		name, body string
		// want is the answer's result or error member, as a prefix.
		want, vapiError string
	}{
		{"create answers the id as its output", rpcCall("create", createInput, token), `"result":{"output":"`, ""},
		{"an unknown operation is OPERATION_NOT_FOUND", rpcCall("explode", `{"STRUCTURE":{"operation-input":{}}}`, token),
			`"result":{"error":{"ERROR":{"com.vmware.vapi.std.errors.operation_not_found"`,
			"com.vmware.vapi.std.errors.operation_not_found"},
		{"input of the wrong type is INVALID_ARGUMENT", rpcCall("keep_alive",
			`{"STRUCTURE":{"operation-input":{"update_session_id":"x","client_progress":{"OPTIONAL":"40"}}}}`, token),
			`"result":{"error":{"ERROR":{"com.vmware.vapi.std.errors.invalid_argument"`,
			"com.vmware.vapi.std.errors.invalid_argument"},
		{"a caller without create is UNAUTHORIZED", rpcCall("create", createInput, reader),
			`"result":{"error":{"ERROR":{"com.vmware.vapi.std.errors.unauthorized"`,
			"com.vmware.vapi.std.errors.unauthorized"},
		{"a download create without create on downloadsessions is UNAUTHORIZED", rpcCallOf(downloadService, "create",
			downloadCreate, reader), `"result":{"error":{"ERROR":{"com.vmware.vapi.std.errors.unauthorized"`,
			"com.vmware.vapi.std.errors.unauthorized"},
		{"a download create of an item without content answers the id", rpcCallOf(downloadService, "create",
			downloadCreate, token), `"result":{"output":"`, ""},
		{"a download session's file list names the session in download_session_id", rpcCallOf(
			"com.vmware.content.library.item.downloadsession.file", "list",
			`{"STRUCTURE":{"operation-input":{"update_session_id":"x"}}}`, token),
			`"result":{"error":{"ERROR":{"com.vmware.vapi.std.errors.invalid_argument"`,
			"com.vmware.vapi.std.errors.invalid_argument"},
		{"a download get of an unknown id is NOT_FOUND", rpcCallOf(downloadService, "get",
			`{"STRUCTURE":{"operation-input":{"download_session_id":"x"}}}`, token),
			`"result":{"error":{"ERROR":{"com.vmware.vapi.std.errors.not_found"`,
			"com.vmware.vapi.std.errors.not_found"},
		{"an item's file list without get on libraryitems is UNAUTHORIZED", rpcCallOf(
			"com.vmware.content.library.item.file", "list",
			`{"STRUCTURE":{"operation-input":{"library_item_id":"wire"}}}`, reader),
			`"result":{"error":{"ERROR":{"com.vmware.vapi.std.errors.unauthorized"`,
			"com.vmware.vapi.std.errors.unauthorized"},
		{"an item's storage get names the file in file_name", rpcCallOf(
			"com.vmware.content.library.item.storage", "get",
			`{"STRUCTURE":{"operation-input":{"library_item_id":"wire","name":"a"}}}`, token),
			`"result":{"error":{"ERROR":{"com.vmware.vapi.std.errors.invalid_argument"`,
			"com.vmware.vapi.std.errors.invalid_argument"},
		{"a password that is no token is UNAUTHENTICATED", rpcCall("list",
			`{"STRUCTURE":{"operation-input":{}}}`, "hunter2"),
			`"result":{"error":{"ERROR":{"com.vmware.vapi.std.errors.unauthenticated"`,
			"com.vmware.vapi.std.errors.unauthenticated"},
		{"another method is JSON-RPC's method not found",
			`{"jsonrpc":"2.0","method":"explode","id":"7","params":{}}`, `"error":{"code":-32601`, ""},
		{"a body that is not JSON is a parse error", `{"jsonrpc":`, `"error":{"code":-32700`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", srv+"/api", tc.body, "Authorization", "")
			if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("answered %d %s, want 200 application/json: %s", r.status, r.header.Get("Content-Type"), r.body)
			}
			id := `"7"`
			if strings.Contains(tc.want, "-32700") {
				id = "null"
			}
			if head := `{"jsonrpc":"2.0","id":` + id + `,` + tc.want; !bytes.HasPrefix(r.body, []byte(head)) {
				t.Errorf("answered %s, want it to start %s", r.body, head)
			}
			if got := r.header.Get("vapi-error"); got != tc.vapiError {
				t.Errorf("vapi-error %q, want %q", got, tc.vapiError)
			}
		})
	}
}
