package rest

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

// shape is the kind of path a file-service operation is called on.
type shape int

const (
	// sessionFiles: a session's files, /api .../update-session/{id}/file, /rest
	// .../updatesession/file/id:{id} (or, listing, .../updatesession/file?update_session_id=).
	sessionFiles shape = iota + 1
	// sessionFile: one file of a session, /api .../update-session/{id}/file/{name}.
	sessionFile
	// fileService: the session file service itself, for probe.
	fileService
	// itemFiles and itemStorage: an item's files, /api .../item/{item}/file, /rest
	// .../item/file/id:{item} (or, listing, .../item/file?library_item_id=); storage alike.
	itemFiles
	itemStorage
	// downloadFiles: a download session's files, /api .../download-session/{id}/file, /rest
	// .../downloadsession/file/id:{id} (or, listing, .../downloadsession/file?download_session_id=).
	downloadFiles
)

// contentRoute identifies a file-service operation: method, path shape and action. The /api
// form's get of an item's file or storage is a GET whose query names the file; its action is
// "get", as in the /rest form.
type contentRoute struct {
	method string
	shape  shape
	action string
}

// resourceLibraryItems is the virtual resource of the API group that grants reading an item's
// files and storage (verb get), in the item's namespace.
const resourceLibraryItems = "libraryitems"

// Paths of the file services, beside each form's update-session base.
const (
	apiItemBase       = "/api/content/library/item/"
	restItemBase      = "/rest/com/vmware/content/library/item/"
	restSessionFiles  = "/rest/com/vmware/content/library/item/updatesession/file"
	apiSessionService = "/api/content/library/item/update-session/file"
	restDownloadFiles = "/rest/com/vmware/content/library/item/downloadsession/file"
)

// contentOperations are the update-session file service, the item file and storage services,
// and the download-session file service, in both forms. add, remove and validate need what keep-alive needs; list and get
// what get needs; probe, which makes the operator reach out to a URL, what create needs. The
// /api form's gets of an item's file or storage take the file's name from the query; the /rest
// form's from the body ({"name"}, {"file_name"}), as its gets and removes of a session's file.
// A download session's files are listed and read with what get needs, and prepared with what
// keep-alive needs, on downloadsessions; the /api form's get takes file_name from the query.
var contentOperations = map[contentRoute]*operation{
	{http.MethodPost, sessionFiles, ""}:         {name: "file-add", verb: verbUpdate, creates: true, handle: (*Server).addFile},
	{http.MethodPost, sessionFiles, "add"}:      {name: "file-add", verb: verbUpdate, bodyKey: "file_spec", handle: (*Server).addFile},
	{http.MethodGet, sessionFiles, ""}:          {name: "file-list", verb: verbGet, handle: (*Server).listFiles},
	{http.MethodGet, sessionFile, ""}:           {name: "file-get", verb: verbGet, handle: (*Server).getFile},
	{http.MethodPost, sessionFiles, actionGet}:  {name: "file-get", verb: verbGet, handle: (*Server).getFile},
	{http.MethodDelete, sessionFile, ""}:        {name: "file-remove", verb: verbUpdate, handle: (*Server).removeFile},
	{http.MethodPost, sessionFiles, "remove"}:   {name: "file-remove", verb: verbUpdate, handle: (*Server).removeFile},
	{http.MethodPost, sessionFiles, "validate"}: {name: "file-validate", verb: verbUpdate, handle: (*Server).validateFiles},
	{http.MethodPost, fileService, "probe"}:     {name: "file-probe", verb: verbCreate, bodyKey: "source_endpoint", handle: (*Server).probe},
	{http.MethodGet, itemFiles, ""}:             itemOperation("item-file-list", (*Server).listItemFiles),
	{http.MethodGet, itemFiles, actionGet}:      itemOperation("item-file-get", (*Server).getItemFile, paramName),
	{http.MethodPost, itemFiles, actionGet}:     itemOperation("item-file-get", (*Server).getItemFile),
	{http.MethodGet, itemStorage, ""}:           itemOperation("item-storage-list", (*Server).listItemStorage),
	{http.MethodGet, itemStorage, actionGet}:    itemOperation("item-storage-get", (*Server).getItemStorage, paramFileName),
	{http.MethodPost, itemStorage, actionGet}:   itemOperation("item-storage-get", (*Server).getItemStorage),

	{http.MethodGet, downloadFiles, ""}: downloadOperation("download-file-list", verbGet, (*Server).listDownloadFiles),
	{http.MethodGet, downloadFiles, actionGet}: downloadOperation("download-file-get", verbGet, (*Server).getDownloadFile,
		func(op *operation) { op.params = []string{paramFileName} }),
	{http.MethodPost, downloadFiles, actionGet}:     downloadOperation("download-file-get", verbGet, (*Server).getDownloadFile),
	{http.MethodPost, downloadFiles, actionPrepare}: downloadOperation("download-file-prepare", verbUpdate, (*Server).prepareDownloadFile),
}

// Names of the file services' parameters and actions.
const (
	paramName          = "name"
	paramFileName      = "file_name"
	paramLibraryItemID = "library_item_id"
	actionGet          = "get"
	actionPrepare      = "prepare"
)

// itemOperation is an operation of an item's file or storage service: a read of the item,
// get on libraryitems.
func itemOperation(name string, handle func(*Server, context.Context, call) (any, error), params ...string) *operation {
	return &operation{name: name, verb: verbGet, resource: resourceLibraryItems, params: params, handle: handle}
}

// contentTarget is what a file-service path names.
type contentTarget struct {
	shape shape
	// id is the session's id (session shapes) or the item's (item shapes); empty when the
	// path names neither.
	id string
	// name is the file the /api form's path names.
	name string
}

// parseContent reports whether the request's path is one of the file services', and what it
// names. Ids come from the path, or for the /rest form's lists from the query.
func (f *form) parseContent(r *http.Request, query url.Values) (contentTarget, bool) {
	if f.wrapped {
		return parseRESTContent(r.URL.Path, query)
	}
	return parseAPIContent(r.URL.Path)
}

func parseAPIContent(path string) (contentTarget, bool) {
	if path == apiSessionService {
		return contentTarget{shape: fileService}, true
	}
	if rest, ok := strings.CutPrefix(path, apiForm.downloadBase+"/"); ok {
		id, ok := strings.CutSuffix(rest, "/file")
		if !ok || id == "" || strings.Contains(id, "/") {
			return contentTarget{}, false
		}
		return contentTarget{shape: downloadFiles, id: id}, true
	}
	if rest, ok := strings.CutPrefix(path, apiForm.base+"/"); ok {
		id, tail, ok := strings.Cut(rest, "/")
		switch {
		case !ok || id == "":
			return contentTarget{}, false
		case tail == "file":
			return contentTarget{shape: sessionFiles, id: id}, true
		}
		name, ok := strings.CutPrefix(tail, "file/")
		if !ok || name == "" || strings.Contains(name, "/") {
			return contentTarget{}, false
		}
		return contentTarget{shape: sessionFile, id: id, name: name}, true
	}
	rest, ok := strings.CutPrefix(path, apiItemBase)
	if !ok {
		return contentTarget{}, false
	}
	item, service, ok := strings.Cut(rest, "/")
	if !ok || item == "" {
		return contentTarget{}, false
	}
	switch service {
	case "file":
		return contentTarget{shape: itemFiles, id: item}, true
	case "storage":
		return contentTarget{shape: itemStorage, id: item}, true
	}
	return contentTarget{}, false
}

func parseRESTContent(path string, query url.Values) (contentTarget, bool) {
	for _, base := range []struct {
		path, listParam string
		collection      shape
	}{
		{restSessionFiles, "update_session_id", sessionFiles},
		{restItemBase + "file", paramLibraryItemID, itemFiles},
		{restItemBase + "storage", paramLibraryItemID, itemStorage},
		{restDownloadFiles, "download_session_id", downloadFiles},
	} {
		rest, ok := strings.CutPrefix(path, base.path)
		switch {
		case !ok:
			continue
		case rest == "" && base.collection == sessionFiles && query.Get(base.listParam) == "":
			return contentTarget{shape: fileService}, true // probe; a list without its id is refused as such
		case rest == "":
			return contentTarget{shape: base.collection, id: query.Get(base.listParam)}, true
		}
		id, ok := strings.CutPrefix(rest, "/id:")
		if !ok || id == "" || strings.Contains(id, "/") {
			return contentTarget{}, false
		}
		return contentTarget{shape: base.collection, id: id}, true
	}
	return contentTarget{}, false
}

// lookupContent finds the file-service operation a request calls: matched is false when the
// path is none of the file services', and err says why a path of theirs has no operation.
func lookupContent(f *form, r *http.Request, query url.Values) (op *operation, t contentTarget, matched bool, err *vapi.Error) {
	t, matched = f.parseContent(r, query)
	if !matched {
		return nil, t, false, nil
	}
	if t.shape == fileService && f.wrapped && r.Method == http.MethodGet {
		t.shape = sessionFiles // a list without update_session_id
	}
	rt := contentRoute{method: r.Method, shape: t.shape, action: query.Get(f.actionParam)}
	if !f.wrapped && r.Method == http.MethodGet && (t.shape == itemFiles && query.Has(paramName) ||
		(t.shape == itemStorage || t.shape == downloadFiles) && query.Has(paramFileName)) {
		rt.action = actionGet
	}
	if op = contentOperations[rt]; op != nil {
		if t.id == "" && t.shape != fileService {
			return nil, t, true, invalidArgument("%s: the %s to list is not named", r.URL.Path, targetNoun(t.shape))
		}
		return op, t, true, nil
	}
	var allowed []string
	for other := range contentOperations {
		if other.shape == rt.shape && other.action == rt.action && !slices.Contains(allowed, other.method) {
			allowed = append(allowed, other.method)
		}
	}
	if len(allowed) > 0 {
		slices.Sort(allowed)
		e := vapi.Errorf(vapi.InvalidRequest, msgMethodNotAllowed,
			"Method %s is not allowed here; use %s.", r.Method, strings.Join(allowed, " or "))
		e.Status = http.StatusMethodNotAllowed
		return nil, t, true, e
	}
	return nil, t, true, vapi.Errorf(vapi.OperationNotFound, msgOperationNotFound,
		"No operation is served for %s %s.", r.Method, r.URL.Path)
}

// targetNoun names what a shape's id identifies.
func targetNoun(s shape) string {
	switch s {
	case itemFiles, itemStorage:
		return "library item"
	case downloadFiles:
		return "download session"
	}
	return "update session"
}
