package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vapi/library"
	vapirest "github.com/vmware/govmomi/vapi/rest"
	_ "github.com/vmware/govmomi/vapi/simulator" // registers the content library endpoints
)

// serveVcsim runs govmomi's simulator over plain HTTP, as the manager serves its REST API in the
// benchmark, prints its URL and the URL of its pprof profiles, and serves until killed. The
// benchmark runs it as a process of its own (bench -serve-vcsim), so that it does not share the
// load generator's process, and profiles it as it profiles the manager.
func serveVcsim() error {
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		return err
	}
	model.Service.RegisterEndpoints = true
	server := model.Service.NewServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	profiles := http.NewServeMux()
	profiles.HandleFunc("/debug/pprof/profile", pprof.Profile)
	fmt.Println(server.URL.String())
	fmt.Println("http://" + ln.Addr().String() + "/debug/pprof")
	return http.Serve(ln, profiles)
}

// vcsimProcess is the simulator running as a child process, with update sessions to keep alive.
type vcsimProcess struct {
	*child
	sdk       *url.URL
	pprofURL  string
	sessionID string
	ids       []string
}

// startVcsim runs bench -serve-vcsim, logs in, and creates n update sessions on one library item.
func startVcsim(ctx context.Context, n int) (*vcsimProcess, error) {
	c, err := startChild("-serve-vcsim")
	if err != nil {
		return nil, err
	}
	v := &vcsimProcess{child: c}
	v.sdk, err = url.Parse(c.url)
	if err == nil {
		var line string
		line, err = c.out.ReadString('\n')
		v.pprofURL = strings.TrimSpace(line)
	}
	if err == nil {
		err = v.createSessions(ctx, n)
	}
	if err != nil {
		v.stop()
		return nil, fmt.Errorf("vcsim: %w", err)
	}
	return v, nil
}

func (v *vcsimProcess) createSessions(ctx context.Context, n int) error {
	c, err := govmomi.NewClient(ctx, v.sdk, true)
	if err != nil {
		return err
	}
	rc := vapirest.NewClient(c.Client)
	if err := rc.Login(ctx, v.sdk.User); err != nil {
		return err
	}
	ds, err := find.NewFinder(c.Client).DefaultDatastore(ctx)
	if err != nil {
		return err
	}
	m := library.NewManager(rc)
	lib, err := m.CreateLibrary(ctx, library.Library{Name: "bench", Type: "LOCAL",
		Storage: []library.StorageBacking{{DatastoreID: ds.Reference().Value, Type: "DATASTORE"}}})
	if err != nil {
		return err
	}
	item, err := m.CreateLibraryItem(ctx, library.Item{Name: "item", Type: "ovf", LibraryID: lib})
	if err != nil {
		return err
	}
	for range n {
		id, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: item})
		if err != nil {
			return err
		}
		v.ids = append(v.ids, id)
	}
	v.sessionID = rc.SessionID()
	return nil
}

// base is the simulator's address without the SDK path: the REST API is under /rest.
func (v *vcsimProcess) base() string { return v.sdk.Scheme + "://" + v.sdk.Host }
