package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestDownloadSessionsNeedTheirOwnRights: download sessions are guarded by RBAC on
// downloadsessions alone. An editor of update sessions only is refused the collection
// (UNAUTHORIZED) and gets the answer of an unknown id on a download session and its files, as
// a caller who may not read an update session does; a viewer of download sessions reads them
// but is refused UNAUTHORIZED what changes them. No refused call changes a session.
func TestDownloadSessionsNeedTheirOwnRights(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	updater := env.ServiceAccountOn(t, ns, "updater", []string{"updatesessions"}, testenv.EditorVerbs...)
	reader := env.ServiceAccountOn(t, ns, "reader", []string{"downloadsessions"}, testenv.ViewerVerbs...)
	x := newDownloadFixture(t, apiURLs, srv, "rbac")

	type sessionCall struct {
		name string
		call func(f urlForm, id string) (method, url, body string)
	}
	action := func(name string) sessionCall {
		return sessionCall{name, func(f urlForm, id string) (string, string, string) {
			return "POST", downloads(f).action(srv, id, name), ""
		}}
	}
	get := sessionCall{"get", func(f urlForm, id string) (string, string, string) { return "GET", downloads(f).item(srv, id), "" }}
	fileList := sessionCall{"file list", func(f urlForm, id string) (string, string, string) {
		return "GET", f.downloadFiles(srv, id), ""
	}}
	fileGet := sessionCall{"file get", func(f urlForm, id string) (string, string, string) {
		return f.getDownloadFile(srv, id, "a.txt")
	}}
	changes := []sessionCall{
		action("keep-alive"), action("cancel"), action("fail"),
		{"delete", func(f urlForm, id string) (string, string, string) { return "DELETE", downloads(f).item(srv, id), "" }},
		{"file prepare", func(f urlForm, id string) (string, string, string) {
			return "POST", f.downloadFileAction(srv, id, "prepare"), `{"file_name": "a.txt"}`
		}},
	}

	for _, f := range forms {
		for _, c := range append([]sessionCall{get, fileList, fileGet}, changes...) {
			t.Run("update-session editor/"+c.name+"/"+f.name, func(t *testing.T) {
				before := downloadSnapshot(t, ns)
				method, url, body := c.call(f, x.active)
				existing := do(t, method, url, body, bearer(updater.Token)...)
				method, url, body = c.call(f, unknownID)
				missing := do(t, method, url, body, bearer(updater.Token)...)
				refused(t, existing, 404, "NOT_FOUND")
				if a, b := strings.ReplaceAll(string(existing.body), x.active, "ID"),
					strings.ReplaceAll(string(missing.body), unknownID, "ID"); existing.status != missing.status || a != b {
					t.Fatalf("a download session it may not read answers %d %s; an unknown id %d %s",
						existing.status, a, missing.status, b)
				}
				if after := downloadSnapshot(t, ns); after != before {
					t.Fatalf("a refused call changed a session: %s -> %s", before, after)
				}
			})
		}
		t.Run("update-session editor/list and create/"+f.name, func(t *testing.T) {
			before := downloadSnapshot(t, ns)
			refused(t, do(t, "GET", downloads(f).collection(srv), "", bearer(updater.Token)...), 403, "UNAUTHORIZED")
			refused(t, do(t, "POST", downloads(f).collection(srv), f.wrap("create_spec", `{"library_item_id": "`+x.item+`"}`),
				bearer(updater.Token)...), 403, "UNAUTHORIZED")
			if after := downloadSnapshot(t, ns); after != before {
				t.Fatalf("a refused call changed the sessions: %s -> %s", before, after)
			}
		})
		t.Run("download-session viewer/"+f.name, func(t *testing.T) {
			for _, c := range []sessionCall{get, fileList, fileGet} {
				method, url, body := c.call(f, x.active)
				if resp := do(t, method, url, body, bearer(reader.Token)...); resp.status != 200 {
					t.Fatalf("%s: %d %s", c.name, resp.status, resp.body)
				}
			}
			before := downloadSnapshot(t, ns)
			for _, c := range changes {
				method, url, body := c.call(f, x.active)
				refused(t, do(t, method, url, body, bearer(reader.Token)...), 403, "UNAUTHORIZED")
			}
			if after := downloadSnapshot(t, ns); after != before {
				t.Fatalf("a refused call changed a session: %s -> %s", before, after)
			}
		})
	}
}

// downloadSnapshot names every download session of ns with its resourceVersion, read from
// the API server.
func downloadSnapshot(t *testing.T, ns string) string {
	t.Helper()
	var list v1alpha1.DownloadSessionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	s := ""
	for _, ds := range list.Items {
		s += ds.Name + "@" + ds.ResourceVersion + " "
	}
	return s
}
