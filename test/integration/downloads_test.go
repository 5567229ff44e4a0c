package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// downloadFixture is what one download-session conformance row runs against, made fresh for
// it: an item with content (the file a.txt, committed by an update session), an ACTIVE
// download session of it, one that was canceled, and an ACTIVE one of an item without content.
type downloadFixture struct {
	srv             string
	item, emptyItem string
	// update is the update session that committed the item's content.
	update               string
	active, ended, empty string
}

// downloadContent is the content of the fixture's item's file a.txt.
const downloadContent = "the bytes of a.txt"

// downloads is f's URL form of the download-session service.
func downloads(f urlForm) urlForm {
	f.base = strings.Replace(f.base, "update-session", "download-session", 1)
	return f
}

// downloadSpecification is VMware's specification (content.json 8.0.2, the Python bindings'
// rest metadata) of the download-session service, one row per documented outcome, in both
// URL forms:
//
//	operation                     /api success / errors               /rest success / errors
//	create                        201 id; 400                         200 {value: id}; 400
//	list                          200 [ids]                           200 {value: [ids]}
//	get                           200 model; 404                      200 {value: model}; 404
//	delete (any state)            204; 404                            200; 404
//	cancel, fail, keep-alive      204; 404, 400 NOT_ALLOWED_IN_...   200; 404, 400
//
// create's and list's 404 (library item not found) cannot happen here: the operator keeps no
// library items, and an item without content is one without files.
var downloadSpecification = []specRow[downloadFixture]{
	{"create",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "POST", downloads(f).collection(x.srv), f.wrap("create_spec", `{"library_item_id": "`+x.item+`"}`)
		},
		outcome{status: 201, shape: "id"}, outcome{status: 200, shape: "id"}},
	{"create, invalid spec",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "POST", downloads(f).collection(x.srv), f.wrap("create_spec", `{"library_item_id": ""}`)
		},
		outcome{status: 400, errorType: "INVALID_ARGUMENT"}, outcome{status: 400, errorType: "INVALID_ARGUMENT"}},
	{"create, unknown member",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "POST", downloads(f).collection(x.srv), f.wrap("create_spec", `{"library_item_id": "a", "x": 1}`)
		},
		outcome{status: 400, errorType: "INVALID_ARGUMENT"}, outcome{status: 400, errorType: "INVALID_ARGUMENT"}},
	{"list",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "GET", downloads(f).collection(x.srv), ""
		},
		outcome{status: 200, shape: "ids"}, outcome{status: 200, shape: "ids"}},
	{"list of one item",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "GET", downloads(f).collection(x.srv) + "?library_item_id=" + x.item, ""
		},
		outcome{status: 200, shape: "ids"}, outcome{status: 200, shape: "ids"}},
	{"get",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "GET", downloads(f).item(x.srv, x.active), ""
		},
		outcome{status: 200, shape: "model"}, outcome{status: 200, shape: "model"}},
	{"get, unknown id",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "GET", downloads(f).item(x.srv, unknownID), ""
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"get, an update session's id",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "GET", downloads(f).item(x.srv, x.update), ""
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"delete",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "DELETE", downloads(f).item(x.srv, x.ended), ""
		},
		outcome{status: 204}, outcome{status: 200}},
	{"delete, session ACTIVE",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "DELETE", downloads(f).item(x.srv, x.active), ""
		},
		outcome{status: 204}, outcome{status: 200}},
	{"delete, unknown id",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "DELETE", downloads(f).item(x.srv, unknownID), ""
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	downloadActionRow("cancel", "", 204, 200, ""),
	downloadActionRow("cancel", "", 404, 404, "NOT_FOUND"),
	downloadActionRow("cancel", "", 400, 400, "NOT_ALLOWED_IN_CURRENT_STATE"),
	downloadActionRow("fail", "", 204, 200, ""),
	downloadActionRow("fail", `{"client_error_message": "disk full"}`, 204, 200, ""),
	downloadActionRow("fail", "", 404, 404, "NOT_FOUND"),
	downloadActionRow("fail", "", 400, 400, "NOT_ALLOWED_IN_CURRENT_STATE"),
	downloadActionRow("keep-alive", "", 204, 200, ""),
	downloadActionRow("keep-alive", `{"progress": 40}`, 204, 200, ""),
	downloadActionRow("keep-alive", `{"progress": 101}`, 400, 400, "INVALID_ARGUMENT"),
	downloadActionRow("keep-alive", `{"client_progress": 40}`, 400, 400, "INVALID_ARGUMENT"),
	downloadActionRow("keep-alive", "", 404, 404, "NOT_FOUND"),
	downloadActionRow("keep-alive", "", 400, 400, "NOT_ALLOWED_IN_CURRENT_STATE"),

	// The file service (downloadsession.file): list, get, prepare.
	{"file list",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "GET", f.downloadFiles(x.srv, x.active), ""
		},
		outcome{status: 200, shape: "list"}, outcome{status: 200, shape: "list"}},
	{"file list, item without content",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "GET", f.downloadFiles(x.srv, x.empty), ""
		},
		outcome{status: 200, shape: "list"}, outcome{status: 200, shape: "list"}},
	{"file list, unknown id",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "GET", f.downloadFiles(x.srv, unknownID), ""
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	{"file get",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return f.getDownloadFile(x.srv, x.active, "a.txt")
		},
		outcome{status: 200, shape: "object"}, outcome{status: 200, shape: "object"}},
	{"file get, unknown name",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return f.getDownloadFile(x.srv, x.active, "b.txt")
		},
		outcome{status: 400, errorType: "INVALID_ARGUMENT"}, outcome{status: 400, errorType: "INVALID_ARGUMENT"}},
	{"file get, item without content",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return f.getDownloadFile(x.srv, x.empty, "a.txt")
		},
		outcome{status: 400, errorType: "INVALID_ARGUMENT"}, outcome{status: 400, errorType: "INVALID_ARGUMENT"}},
	{"file get, unknown id",
		func(f urlForm, x downloadFixture) (string, string, string) {
			return f.getDownloadFile(x.srv, unknownID, "a.txt")
		},
		outcome{status: 404, errorType: "NOT_FOUND"}, outcome{status: 404, errorType: "NOT_FOUND"}},
	prepareRow("file prepare", func(x downloadFixture) string { return x.active }, `{"file_name": "a.txt"}`, 200, ""),
	prepareRow("file prepare HTTPS", func(x downloadFixture) string { return x.active },
		`{"file_name": "a.txt", "endpoint_type": "HTTPS"}`, 200, ""),
	prepareRow("file prepare, unknown name", func(x downloadFixture) string { return x.active },
		`{"file_name": "b.txt"}`, 400, "INVALID_ARGUMENT"),
	prepareRow("file prepare, no name", func(x downloadFixture) string { return x.active }, `{}`, 400, "INVALID_ARGUMENT"),
	prepareRow("file prepare, item without content", func(x downloadFixture) string { return x.empty },
		`{"file_name": "a.txt"}`, 400, "INVALID_ARGUMENT"),
	prepareRow("file prepare, endpoint DIRECT", func(x downloadFixture) string { return x.active },
		`{"file_name": "a.txt", "endpoint_type": "DIRECT"}`, 400, "UNSUPPORTED"),
	prepareRow("file prepare, unknown id", func(downloadFixture) string { return unknownID },
		`{"file_name": "a.txt"}`, 404, "NOT_FOUND"),
	prepareRow("file prepare, session ended", func(x downloadFixture) string { return x.ended },
		`{"file_name": "a.txt"}`, 400, "NOT_ALLOWED_IN_CURRENT_STATE"),
}

// prepareRow is the row of a prepare of the session target names, with body: the same status
// in both forms.
func prepareRow(name string, target func(downloadFixture) string, body string, status int, errorType string) specRow[downloadFixture] {
	shape := ""
	if errorType == "" {
		shape = "object"
	}
	return specRow[downloadFixture]{name,
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "POST", f.downloadFileAction(x.srv, target(x), "prepare"), body
		},
		outcome{status: status, shape: shape, errorType: errorType}, outcome{status: status, shape: shape, errorType: errorType}}
}

// restDownloadFiles is the /rest form's download-session file service.
const restDownloadFiles = "/rest/com/vmware/content/library/item/downloadsession/file"

// downloadFiles is the URL that lists the files of download session id.
func (f urlForm) downloadFiles(server, id string) string {
	if f.wrapped {
		return server + restDownloadFiles + "?download_session_id=" + url.QueryEscape(id)
	}
	return downloads(f).item(server, id) + "/file"
}

// downloadFileAction is the URL of an action of download session id's file service.
func (f urlForm) downloadFileAction(server, id, action string) string {
	if f.wrapped {
		return server + restDownloadFiles + "/id:" + url.PathEscape(id) + "?~action=" + action
	}
	return downloads(f).item(server, id) + "/file?action=" + action
}

// getDownloadFile is the call of a get of file name of download session id: a GET with the
// name in the query in the /api form, a POST with it in the body in the /rest form.
func (f urlForm) getDownloadFile(server, id, name string) (method, u, body string) {
	if f.wrapped {
		return "POST", f.downloadFileAction(server, id, "get"), `{"file_name": "` + name + `"}`
	}
	return "GET", downloads(f).item(server, id) + "/file?file_name=" + url.QueryEscape(name), ""
}

// downloadActionRow is the row of an action on the ACTIVE session with body (a success, or
// INVALID_ARGUMENT), on an unknown id (NOT_FOUND) or on the ended session
// (NOT_ALLOWED_IN_CURRENT_STATE).
func downloadActionRow(action, body string, apiStatus, restStatus int, errorType string) specRow[downloadFixture] {
	name := action
	target := func(x downloadFixture) string { return x.active }
	switch errorType {
	case "NOT_FOUND":
		name += ", unknown id"
		target = func(downloadFixture) string { return unknownID }
	case "NOT_ALLOWED_IN_CURRENT_STATE":
		name += ", session ended"
		target = func(x downloadFixture) string { return x.ended }
	}
	if body != "" {
		name += " " + body
	}
	return specRow[downloadFixture]{name,
		func(f urlForm, x downloadFixture) (string, string, string) {
			return "POST", downloads(f).action(x.srv, target(x), action), body
		},
		outcome{status: apiStatus, errorType: errorType}, outcome{status: restStatus, errorType: errorType}}
}

// TestDownloadSessionsConformToVMwareSpecification calls every download-session and file
// operation in both URL forms and checks each outcome the specification documents, as
// TestConformsToVMwareSpecification does for update sessions.
func TestDownloadSessionsConformToVMwareSpecification(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	conform(t, srv, downloadSpecification, newDownloadFixture)
}

// newDownloadFixture makes the fixture of the row named name: its items are the row's own.
func newDownloadFixture(t *testing.T, f urlForm, srv, name string) downloadFixture {
	t.Helper()
	item := "dl-" + f.name + "-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	x := downloadFixture{srv: srv, item: item, emptyItem: item + "-empty"}
	x.update = f.commitFile(t, srv, x.item, []byte(downloadContent))
	dls := downloads(f)
	x.active = dls.create(t, srv, `{"library_item_id": "`+x.item+`"}`)
	x.ended = dls.create(t, srv, `{"library_item_id": "`+x.item+`"}`)
	f.ok(t, do(t, http.MethodPost, dls.action(srv, x.ended, "cancel"), ""))
	x.empty = dls.create(t, srv, `{"library_item_id": "`+x.emptyItem+`"}`)
	return x
}

// downloadModel is the DownloadSessionModel as get answers it.
type downloadModel struct {
	ID                        string     `json:"id"`
	LibraryItemID             string     `json:"library_item_id"`
	LibraryItemContentVersion string     `json:"library_item_content_version"`
	State                     string     `json:"state"`
	ClientProgress            int64      `json:"client_progress"`
	ExpirationTime            *time.Time `json:"expiration_time"`
	ErrorMessage              *struct {
		DefaultMessage string `json:"default_message"`
	} `json:"error_message"`
}

// downloadFileInfo is the downloadsession File.Info as list, get and prepare answer it.
type downloadFileInfo struct {
	Name             string `json:"name"`
	Size             *int64 `json:"size"`
	BytesTransferred int64  `json:"bytes_transferred"`
	Status           string `json:"status"`
	DownloadEndpoint *struct {
		URI string `json:"uri"`
	} `json:"download_endpoint"`
	ChecksumInfo *struct {
		Algorithm string `json:"algorithm"`
		Checksum  string `json:"checksum"`
	} `json:"checksum_info"`
}

// TestDownloadSessionWalkThrough follows a download session from create to delete in each
// form: the model shows the content version it reads, prepare makes a file PREPARED with a
// download endpoint that a second prepare keeps, an update of the item does not change the
// files the session reads, and cancel takes the endpoint away.
func TestDownloadSessionWalkThrough(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			x := newDownloadFixture(t, f, srv, "walk")
			dls := downloads(f)
			var m downloadModel
			f.result(t, do(t, "GET", dls.item(srv, x.active), ""), http.StatusOK, &m)
			if m.ID != x.active || m.LibraryItemID != x.item || m.LibraryItemContentVersion != "1" ||
				m.State != "ACTIVE" || m.ClientProgress != 0 || m.ExpirationTime == nil || m.ErrorMessage != nil {
				t.Fatalf("model %+v", m)
			}
			var empty downloadModel
			f.result(t, do(t, "GET", dls.item(srv, x.empty), ""), http.StatusOK, &empty)
			if empty.LibraryItemContentVersion != "" {
				t.Fatalf("a session of an item without content reads version %q", empty.LibraryItemContentVersion)
			}

			files := listDownloadFiles(t, f, srv, x.active)
			if len(files) != 1 || files[0].Name != "a.txt" || files[0].Status != "UNPREPARED" ||
				files[0].DownloadEndpoint != nil || *files[0].Size != int64(len(downloadContent)) {
				t.Fatalf("files before prepare %+v", files)
			}
			first := prepareDownload(t, f, srv, x.active, "a.txt")
			if first.Status != "PREPARED" || first.DownloadEndpoint == nil || first.ChecksumInfo == nil ||
				first.ChecksumInfo.Checksum == "" || first.Size == nil || *first.Size != int64(len(downloadContent)) ||
				!strings.HasPrefix(first.DownloadEndpoint.URI, srv+"/transfer/"+x.active+"/") {
				t.Fatalf("prepared %+v", first)
			}
			if again := prepareDownload(t, f, srv, x.active, "a.txt"); again.DownloadEndpoint.URI != first.DownloadEndpoint.URI {
				t.Fatalf("a second prepare answered %s, the first %s", again.DownloadEndpoint.URI, first.DownloadEndpoint.URI)
			}
			method, u, body := f.getDownloadFile(srv, x.active, "a.txt")
			var got downloadFileInfo
			f.result(t, do(t, method, u, body), http.StatusOK, &got)
			if got.Status != "PREPARED" || got.DownloadEndpoint.URI != first.DownloadEndpoint.URI {
				t.Fatalf("get answered %+v", got)
			}

			f.ok(t, do(t, "POST", dls.action(srv, x.active, "keep-alive"), `{"progress": 50}`))
			f.result(t, do(t, "GET", dls.item(srv, x.active), ""), http.StatusOK, &m)
			if m.ClientProgress != 50 {
				t.Fatalf("progress %d after a keep-alive of 50", m.ClientProgress)
			}

			// A second version of the item: the open session still reads the first.
			f.commitFile(t, srv, x.item, []byte("a longer second version of a.txt"))
			if files := listDownloadFiles(t, f, srv, x.active); *files[0].Size != int64(len(downloadContent)) {
				t.Fatalf("after an update the session reads %+v", files[0])
			}
			newer := dls.create(t, srv, `{"library_item_id": "`+x.item+`"}`)
			f.result(t, do(t, "GET", dls.item(srv, newer), ""), http.StatusOK, &m)
			if m.LibraryItemContentVersion != "2" {
				t.Fatalf("a session made after the update reads version %q", m.LibraryItemContentVersion)
			}

			f.ok(t, do(t, "POST", dls.action(srv, x.active, "cancel"), ""))
			if files := listDownloadFiles(t, f, srv, x.active); files[0].Status != "PREPARED" || files[0].DownloadEndpoint != nil {
				t.Fatalf("a canceled session's file %+v", files[0])
			}
			f.ok(t, do(t, "DELETE", dls.item(srv, x.active), ""))
			refused(t, do(t, "GET", dls.item(srv, x.active), ""), http.StatusNotFound, "NOT_FOUND")
		})
	}
}

// TestDownloadSessionCreateWithClientToken: a create retried with the same client token, in the
// /api form's Client-Token header or the /rest form's client_token member, answers the session
// the first made.
func TestDownloadSessionCreateWithClientToken(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	spec := `{"library_item_id": "tokened"}`
	created := func(f urlForm, token string) string {
		var id string
		if f.wrapped {
			f.result(t, do(t, "POST", downloads(f).collection(srv), `{"client_token": "`+token+`", "create_spec": `+spec+`}`),
				f.created, &id)
		} else {
			f.result(t, do(t, "POST", downloads(f).collection(srv), spec, "Client-Token", token), f.created, &id)
		}
		return id
	}
	for _, f := range forms {
		first, again := created(f, f.name+"-token"), created(f, f.name+"-token")
		if first == "" || first != again {
			t.Fatalf("%s form: a retried create answered %q, the first %q", f.name, again, first)
		}
		if other := created(f, f.name+"-other"); other == first {
			t.Fatalf("%s form: another token answered the same session", f.name)
		}
	}
}

func listDownloadFiles(t *testing.T, f urlForm, srv, id string) []downloadFileInfo {
	t.Helper()
	var files []downloadFileInfo
	f.result(t, do(t, "GET", f.downloadFiles(srv, id), ""), http.StatusOK, &files)
	return files
}

func prepareDownload(t *testing.T, f urlForm, srv, id, name string) downloadFileInfo {
	t.Helper()
	var info downloadFileInfo
	f.result(t, do(t, "POST", f.downloadFileAction(srv, id, "prepare"), `{"file_name": "`+name+`"}`), http.StatusOK, &info)
	return info
}
