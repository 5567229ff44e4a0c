package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vapi/library"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/rest"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// The paths of the session file service and the item file and storage services, per form.
const (
	restSessionFiles = "/rest/com/vmware/content/library/item/updatesession/file"
	apiItems         = "/api/content/library/item/"
	restItems        = "/rest/com/vmware/content/library/item/"
)

// files is the file service of session id: /api .../update-session/{id}/file, /rest
// .../updatesession/file/id:{id}.
func (f urlForm) files(server, id string) string {
	if f.wrapped {
		return server + restSessionFiles + "/id:" + url.PathEscape(id)
	}
	return f.item(server, id) + "/file"
}

// fileAction is the file service's action on session id.
func (f urlForm) fileAction(server, id, action string) string {
	if action == "" {
		return f.files(server, id)
	}
	return f.files(server, id) + "?" + f.actionParam + "=" + action
}

// fileList lists session id's files.
func (f urlForm) fileList(server, id string) string {
	if f.wrapped {
		return server + restSessionFiles + "?update_session_id=" + url.QueryEscape(id)
	}
	return f.files(server, id)
}

// fileCall is get or remove of one file of session id: /api GET or DELETE .../file/{name},
// /rest POST ~action=get or remove with {"file_name"}.
func (f urlForm) fileCall(server, id, op, name string) (method, u, body string) {
	if f.wrapped {
		return http.MethodPost, f.fileAction(server, id, op), `{"file_name": "` + name + `"}`
	}
	method = http.MethodGet
	if op == "remove" {
		method = http.MethodDelete
	}
	return method, f.files(server, id) + "/" + url.PathEscape(name), ""
}

// itemService is an item's file or storage service (service "file" or "storage"): list, or
// get of name when name is set.
func (f urlForm) itemService(server, item, service, name string) (method, u, body string) {
	key := "name"
	if service == "storage" {
		key = "file_name"
	}
	switch {
	case f.wrapped && name == "":
		return http.MethodGet, server + restItems + service + "?library_item_id=" + url.QueryEscape(item), ""
	case f.wrapped:
		return http.MethodPost, server + restItems + service + "/id:" + url.PathEscape(item) + "?~action=get",
			`{"` + key + `": "` + name + `"}`
	case name == "":
		return http.MethodGet, server + apiItems + url.PathEscape(item) + "/" + service, ""
	}
	return http.MethodGet, server + apiItems + url.PathEscape(item) + "/" + service + "?" + key + "=" + url.QueryEscape(name), ""
}

// pushSpec is an AddSpec of a PUSH file.
func pushSpec(name string) string { return `{"name": "` + name + `", "source_type": "PUSH"}` }

// fileSpecification is the specification's rows for the session file service and the item
// file and storage services (content.json 8.0.2), in both forms. Rows named "file ..." run on
// a fixture whose ACTIVE session has the PUSH file disk.vmdk, not yet sent; rows named
// "item ..." on one whose DONE session committed a.txt to x.doneItem.
var fileSpecification = []specRow[fixture]{
	{"file add",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.fileAction(x.srv, x.active, addAction(f)), f.wrap("file_spec", pushSpec("other.vmdk"))
		},
		outcome{status: 201, shape: "object"}, outcome{status: 200, shape: "object"}},
	{"file add, a name with ../",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.fileAction(x.srv, x.active, addAction(f)), f.wrap("file_spec", pushSpec("../etc/passwd"))
		},
		outcome{status: 400, errorType: "INVALID_ARGUMENT"}, outcome{status: 400, errorType: "INVALID_ARGUMENT"}},
	{"file add, a name the session has",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.fileAction(x.srv, x.active, addAction(f)), f.wrap("file_spec", pushSpec("disk.vmdk"))
		},
		outcome{status: 400, errorType: "INVALID_ARGUMENT"}, outcome{status: 400, errorType: "INVALID_ARGUMENT"}},
	{"file add, unknown id",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.fileAction(x.srv, unknownID, addAction(f)), f.wrap("file_spec", pushSpec("a"))
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"file add, session ended",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.fileAction(x.srv, x.done, addAction(f)), f.wrap("file_spec", pushSpec("a"))
		},
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"},
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"}},
	{"file list",
		func(f urlForm, x fixture) (string, string, string) { return "GET", f.fileList(x.srv, x.active), "" },
		outcome{status: 200, shape: "list"}, outcome{status: 200, shape: "list"}},
	{"file list, unknown id",
		func(f urlForm, x fixture) (string, string, string) { return "GET", f.fileList(x.srv, unknownID), "" },
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"file get",
		func(f urlForm, x fixture) (string, string, string) {
			return f.fileCall(x.srv, x.active, "get", "disk.vmdk")
		},
		outcome{status: 200, shape: "object"}, outcome{status: 200, shape: "object"}},
	{"file get, unknown name",
		func(f urlForm, x fixture) (string, string, string) {
			return f.fileCall(x.srv, x.active, "get", "nothing")
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"file remove",
		func(f urlForm, x fixture) (string, string, string) {
			return f.fileCall(x.srv, x.active, "remove", "disk.vmdk")
		},
		outcome{status: 204}, outcome{status: 200}},
	{"file remove, unknown name",
		func(f urlForm, x fixture) (string, string, string) {
			return f.fileCall(x.srv, x.active, "remove", "nothing")
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"validate",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.fileAction(x.srv, x.active, "validate"), ""
		},
		outcome{status: 200, shape: "object"}, outcome{status: 200, shape: "object"}},
	{"file validate, bytes not received",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.fileAction(x.srv, x.active, "validate"), ""
		},
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"},
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"}},
	{"file validate, unknown id",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.fileAction(x.srv, unknownID, "validate"), ""
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"file complete, a PUSH file waiting",
		func(f urlForm, x fixture) (string, string, string) {
			return "POST", f.action(x.srv, x.active, "complete"), ""
		},
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"},
		outcome{status: 400, errorType: "NOT_ALLOWED_IN_CURRENT_STATE"}},
	{"item file list",
		func(f urlForm, x fixture) (string, string, string) {
			return f.itemService(x.srv, x.doneItem, "file", "")
		},
		outcome{status: 200, shape: "list"}, outcome{status: 200, shape: "list"}},
	{"item file get",
		func(f urlForm, x fixture) (string, string, string) {
			return f.itemService(x.srv, x.doneItem, "file", "a.txt")
		},
		outcome{status: 200, shape: "object"}, outcome{status: 200, shape: "object"}},
	{"item file get, unknown name",
		func(f urlForm, x fixture) (string, string, string) {
			return f.itemService(x.srv, x.doneItem, "file", "b.txt")
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"item storage list",
		func(f urlForm, x fixture) (string, string, string) {
			return f.itemService(x.srv, x.doneItem, "storage", "")
		},
		outcome{status: 200, shape: "list"}, outcome{status: 200, shape: "list"}},
	{"item storage get",
		func(f urlForm, x fixture) (string, string, string) {
			return f.itemService(x.srv, x.doneItem, "storage", "a.txt")
		},
		outcome{status: 200, shape: "list"}, outcome{status: 200, shape: "list"}},
	{"item storage get, unknown name",
		func(f urlForm, x fixture) (string, string, string) {
			return f.itemService(x.srv, x.doneItem, "storage", "b.txt")
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
}

// addAction is add's action: none in the /api form (a POST on the files), "add" in /rest.
func addAction(f urlForm) string {
	if f.wrapped {
		return "add"
	}
	return ""
}

// addFile adds a file to session id.
func (f urlForm) addFile(t *testing.T, server, id, spec string) {
	t.Helper()
	var info library.UpdateFile
	f.result(t, do(t, http.MethodPost, f.fileAction(server, id, addAction(f)), f.wrap("file_spec", spec)), f.created, &info)
	if info.Status != "WAITING_FOR_TRANSFER" {
		t.Fatalf("added file %+v", info)
	}
}

// stagedSession creates an update session of item on server whose one file, name, is READY
// with data (see stageReady), and returns its id.
func (f urlForm) stagedSession(t *testing.T, server, item, name string, data []byte) string {
	t.Helper()
	id := f.create(t, server, `{"library_item_id": "`+item+`"}`)
	f.addFile(t, server, id, pushSpec(name))
	stageReady(t, server, id, name, data)
	return id
}

// commitFile commits data as the one file of item, a.txt, through a staged session that
// completes, and returns the session's id.
func (f urlForm) commitFile(t *testing.T, server, item string, data []byte) string {
	t.Helper()
	id := f.stagedSession(t, server, item, "a.txt", data)
	f.ok(t, do(t, http.MethodPost, f.action(server, id, "complete"), ""))
	return id
}

// stageReady puts data in the content store as file name of session id, and marks the file
// READY with its size and checksum. It stands in for the upload endpoint, which is another
// branch's: it writes through content.Store.Put, the store's own write path, on the store the
// server's operator uses, and sets the status as a finished transfer does.
func stageReady(t *testing.T, server, id, name string, data []byte) {
	t.Helper()
	ctx := context.Background()
	st, err := content.Open(ctx, contentStores[server])
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	us := byIDAnywhere(t, id)
	got, err := st.Put(ctx, content.FileKey(us.Namespace, us.Spec.LibraryItemID, us.UID, name), bytes.NewReader(data),
		content.Expect{Size: int64(len(data)), SizeKnown: true})
	if err != nil {
		t.Fatal(err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(us), us); err != nil {
			return err
		}
		for i := range us.Status.Files {
			if f := &us.Status.Files[i]; f.Name == name {
				f.Status, f.BytesTransferred, f.Size = v1alpha1.TransferReady, got.Size, new(got.Size)
				f.Checksum = &v1alpha1.FileChecksum{Algorithm: v1alpha1.ChecksumAlgorithm(got.Checksum.Algorithm),
					Checksum: got.Checksum.Value}
				return env.Client.Status().Update(ctx, us)
			}
		}
		t.Fatalf("session %s has no file %s", id, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sha256Hex is data's SHA-256 digest in lowercase hex.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// TestGovmomiFiles runs govmomi's library.Manager file calls against the server: add, list,
// get, validate (an OVF whose disk was not added is missing it), remove, complete refused while
// a PUSH file waits, then complete and the item's files and storage; then a second session
// that removes a file of the item.
func TestGovmomiFiles(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	m := govmomiManager(t, srv, tokens[srv])
	ctx := context.Background()

	id, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "ovf-item"})
	if err != nil {
		t.Fatal(err)
	}
	addDescriptor(ctx, t, m, srv, ns, id)
	addDisk(ctx, t, m, srv, id)
	if err := m.CompleteLibraryItemUpdateSession(ctx, id); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if st := byID(t, ns, id).Status; st.State != v1alpha1.StateDone || st.ContentVersion != 1 {
		t.Fatalf("after complete: state %s, contentVersion %d", st.State, st.ContentVersion)
	}
	checkItemContent(ctx, t, m)
	removeItemFile(ctx, t, m, ns)
}

// testOVF is an OVF descriptor that references one disk, vm-disk1.vmdk.
var testOVF = []byte(`<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" ` +
	`xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><References><File ovf:href="vm-disk1.vmdk" ovf:id="f1"/>` +
	`</References><VirtualSystem ovf:id="vm"/></Envelope>`)

// addDescriptor adds testOVF to session id, checks the answers of add, a refused add, a
// refused complete, get, list, and validate naming the disk missing.
func addDescriptor(ctx context.Context, t *testing.T, m *library.Manager, srv, ns, id string) {
	t.Helper()
	added, err := m.AddLibraryItemFile(ctx, id, library.UpdateFile{Name: "vm.ovf", SourceType: "PUSH", Size: int64(len(testOVF)),
		Checksum: &library.Checksum{Algorithm: "SHA256", Checksum: sha256Hex(testOVF)}})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if added.Status != "WAITING_FOR_TRANSFER" || added.UploadEndpoint == nil ||
		!strings.HasPrefix(added.UploadEndpoint.URI, srv+"/transfer/"+id+"/") {
		t.Fatalf("add answered %+v", added)
	}
	if _, err := m.AddLibraryItemFile(ctx, id, library.UpdateFile{Name: "../vm.ovf", SourceType: "PUSH"}); err == nil ||
		!strings.Contains(err.Error(), "400") {
		t.Fatalf("add of ../vm.ovf: %v, want 400 INVALID_ARGUMENT", err)
	}
	if err := m.CompleteLibraryItemUpdateSession(ctx, id); err == nil {
		t.Fatal("complete with a PUSH file WAITING_FOR_TRANSFER succeeded")
	}
	if st := byID(t, ns, id).Status; st.State != v1alpha1.StateActive || st.CompletionRequested != nil {
		t.Fatalf("a refused complete changed the session: %+v", st)
	}
	stageReady(t, srv, id, "vm.ovf", testOVF)
	got, err := m.GetLibraryItemUpdateSessionFile(ctx, id, "vm.ovf")
	if err != nil || got.Status != "READY" || got.Size != int64(len(testOVF)) || got.Checksum.Checksum != sha256Hex(testOVF) {
		t.Fatalf("get: %+v, %v", got, err)
	}
	files, err := m.ListLibraryItemUpdateSessionFile(ctx, id)
	if err != nil || len(files) != 1 || files[0].Name != "vm.ovf" {
		t.Fatalf("list: %+v, %v", files, err)
	}
	v, err := m.ValidateLibraryItemUpdateSessionFile(ctx, id)
	if err != nil || !v.HasErrors || !slices.Equal(v.MissingFiles, []string{"vm-disk1.vmdk"}) || len(v.InvalidFiles) != 0 {
		t.Fatalf("validate: %+v, %v; want vm-disk1.vmdk missing", v, err)
	}
}

// testDisk is the bytes of vm-disk1.vmdk.
var testDisk = []byte("not really a disk")

// addDisk adds the disk testOVF references, and a file it removes again; validate then finds
// nothing wrong.
func addDisk(ctx context.Context, t *testing.T, m *library.Manager, srv, id string) {
	t.Helper()
	if _, err := m.AddLibraryItemFile(ctx, id, library.UpdateFile{Name: "vm-disk1.vmdk", SourceType: "PUSH"}); err != nil {
		t.Fatal(err)
	}
	stageReady(t, srv, id, "vm-disk1.vmdk", testDisk)
	if _, err := m.AddLibraryItemFile(ctx, id, library.UpdateFile{Name: "scratch", SourceType: "PUSH"}); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveLibraryItemUpdateSessionFile(ctx, id, "scratch"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	v, err := m.ValidateLibraryItemUpdateSessionFile(ctx, id)
	if err != nil || v.HasErrors || len(v.MissingFiles) != 0 {
		t.Fatalf("validate with every file: %+v, %v", v, err)
	}
}

// checkItemContent checks the item's files and storage after the first session completed.
func checkItemContent(ctx context.Context, t *testing.T, m *library.Manager) {
	t.Helper()
	itemFiles, err := m.ListLibraryItemFiles(ctx, "ovf-item")
	if err != nil || len(itemFiles) != 2 {
		t.Fatalf("item files: %+v, %v", itemFiles, err)
	}
	f, err := m.GetLibraryItemFile(ctx, "ovf-item", "vm-disk1.vmdk")
	if err != nil || *f.Size != int64(len(testDisk)) || f.Checksum == nil || f.Checksum.Checksum != sha256Hex(testDisk) ||
		f.Version != "1" || f.Cached == nil || !*f.Cached {
		t.Fatalf("item file: %+v, %v", f, err)
	}
	storage, err := m.ListLibraryItemStorage(ctx, "ovf-item")
	if err != nil || len(storage) != 2 || len(storage[0].StorageURIs) != 1 ||
		!strings.HasPrefix(storage[0].StorageURIs[0], "file://") || storage[0].StorageBacking.Type != "OTHER" {
		t.Fatalf("item storage: %+v, %v", storage, err)
	}
}

// removeItemFile: a second session of the item removes a file of the item it did not add; the
// item's next version lacks it.
func removeItemFile(ctx context.Context, t *testing.T, m *library.Manager, ns string) {
	t.Helper()
	next, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "ovf-item"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveLibraryItemUpdateSessionFile(ctx, next, "vm-disk1.vmdk"); err != nil {
		t.Fatalf("remove of an item's file: %v", err)
	}
	if got := byID(t, ns, next).Status.RemovedFiles; !slices.Equal(got, []string{"vm-disk1.vmdk"}) {
		t.Fatalf("removedFiles %v", got)
	}
	if err := m.CompleteLibraryItemUpdateSession(ctx, next); err != nil {
		t.Fatal(err)
	}
	itemFiles, err := m.ListLibraryItemFiles(ctx, "ovf-item")
	if err != nil || len(itemFiles) != 1 || itemFiles[0].Name != "vm.ovf" {
		t.Fatalf("item files after the removal: %+v, %v", itemFiles, err)
	}
}

// TestItemFilesNeedTheReadRight: an item's files need get on libraryitems in the item's
// namespace; the rights on sessions do not grant it, and another namespace's item of the same
// id is not seen.
func TestItemFilesNeedTheReadRight(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	restURLs.commitFile(t, srv, "shared-id", []byte("hello"))

	sessionsOnly := env.ServiceAccount(t, ns, "sessions-only", "get", "list", "create", "update")
	method, u, body := apiURLs.itemService(srv, "shared-id", "file", "")
	refused(t, do(t, method, u, body, "Authorization", "Bearer "+sessionsOnly.Token), http.StatusForbidden, "UNAUTHORIZED")

	var infos []library.File
	apiURLs.result(t, do(t, method, u, body), http.StatusOK, &infos)
	if len(infos) != 1 || infos[0].Name != "a.txt" {
		t.Fatalf("the uploader's item files: %+v", infos)
	}

	other := env.Namespace(t)
	outsider := env.ServiceAccount(t, other, "outsider", "get")
	env.GrantLibraryItems(t, other, "outsider")
	apiURLs.result(t, do(t, method, u, body, "Authorization", "Bearer "+outsider.Token), http.StatusOK, &infos)
	if len(infos) != 0 {
		t.Fatalf("an item of the same id in another namespace shows %+v", infos)
	}
	refused(t, do(t, method, u+"?namespace="+ns, body, "Authorization", "Bearer "+outsider.Token), http.StatusForbidden, "UNAUTHORIZED")
}

// TestFilesPerSessionLimit: an add past --content-max-files-per-session is refused with a
// message that says so, and nothing is added.
func TestFilesPerSessionLimit(t *testing.T) {
	ns := env.Namespace(t)
	opts := startOptions(5 * time.Minute)
	opts.MaxFilesPerSession = 2
	op := env.StartOperator(t, ns, opts)
	srv := op.RESTURL
	tokens[srv] = env.ServiceAccount(t, ns, "uploader", "get", "create", "update").Token
	t.Cleanup(func() { delete(tokens, srv) })
	id := apiURLs.create(t, srv, `{"library_item_id": "many"}`)
	apiURLs.addFile(t, srv, id, pushSpec("1"))
	apiURLs.addFile(t, srv, id, pushSpec("2"))
	resp := do(t, http.MethodPost, apiURLs.fileAction(srv, id, ""), pushSpec("3"))
	refused(t, resp, http.StatusBadRequest, "INVALID_ARGUMENT")
	if !strings.Contains(string(resp.body), "as many as a session may hold") {
		t.Fatalf("message %s", resp.body)
	}
	if n := len(byID(t, ns, id).Status.Files); n != 2 {
		t.Fatalf("%d files", n)
	}
}

// TestItemFilesWithinTheReadBudget: an item's file and storage calls read the content store on
// every call, so they spend the caller's reads: past its budget a caller is answered
// SERVICE_UNAVAILABLE with Retry-After, while another caller still reads the item's files.
func TestItemFilesWithinTheReadBudget(t *testing.T) {
	const burst = 3
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	apiURLs.commitFile(t, srv, "budgeted", []byte("hello"))
	// Made before the replica starts, so that its cache has it: a lookup would spend a read too.
	open := apiURLs.stagedSession(t, srv, "budgeted", "b.txt", []byte("bye"))

	opts := startOptions(5 * time.Minute)
	opts.RESTReads = rest.ReadLimits{QPS: 0.001, Burst: burst} // no refill within the test
	opts.ContentStore = contentStores[srv]
	replica := env.StartOperator(t, ns, opts).RESTURL
	greedy := env.ServiceAccount(t, ns, "greedy", testenv.EditorVerbs...).Token
	env.GrantLibraryItems(t, ns, "greedy")
	other := env.ServiceAccount(t, ns, "other", "get").Token
	env.GrantLibraryItems(t, ns, "other")

	files := func(i int) (method, u, body string) {
		return apiURLs.itemService(replica, "budgeted", []string{"file", "storage"}[i%2], "")
	}
	for i := range burst {
		method, u, body := files(i)
		if resp := do(t, method, u, body, bearer(greedy)...); resp.status != http.StatusOK {
			t.Fatalf("item read %d within the budget: %d %s", i+1, resp.status, resp.body)
		}
	}
	method, u, body := files(0)
	resp := do(t, method, u, body, bearer(greedy)...)
	refused(t, resp, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	if resp.header.Get("Retry-After") == "" {
		t.Error("the refusal has no Retry-After")
	}
	var infos []library.File
	apiURLs.result(t, do(t, method, u, body, bearer(other)...), http.StatusOK, &infos)
	if len(infos) != 1 || infos[0].Name != "a.txt" || infos[0].Size == nil || *infos[0].Size != 5 {
		t.Fatalf("another caller's item files: %+v", infos)
	}

	// validate, and remove of a file the session does not hold, read the store too.
	method, u, body = apiURLs.fileCall(replica, open, "remove", "a.txt")
	refused(t, do(t, method, u, body, bearer(greedy)...), http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	refused(t, do(t, http.MethodPost, apiURLs.fileAction(replica, open, "validate"), "", bearer(greedy)...),
		http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	var result struct {
		HasErrors bool `json:"has_errors"`
	}
	apiURLs.result(t, do(t, http.MethodPost, apiURLs.fileAction(srv, open, "validate"), ""), http.StatusOK, &result)
	if result.HasErrors {
		t.Error("the session's validate on the first replica has errors")
	}
}
