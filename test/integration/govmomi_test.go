package integration

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vapi/library"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// govmomiManager returns govmomi's content library client pointed at our REST server, as a
// vSphere user would have it; govmomi speaks the /rest form only.
func govmomiManager(t *testing.T, server, token string) *library.Manager {
	t.Helper()
	u, err := url.Parse(server + "/sdk")
	if err != nil {
		t.Fatal(err)
	}
	rc := rest.NewClient(&vim25.Client{Client: soap.NewClient(u, true)})
	rc.SessionID(token)
	return library.NewManager(rc)
}

func TestGovmomiClient(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	m := govmomiManager(t, srv, tokens[srv])
	ctx := context.Background()

	id, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "ova-1", LibraryItemContentVersion: "2"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	got, err := m.GetLibraryItemUpdateSession(ctx, id)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.ID != id || got.LibraryItemID != "ova-1" || got.LibraryItemContentVersion != "2" || got.State != "ACTIVE" ||
		got.ExpirationTime == nil || time.Until(*got.ExpirationTime) < 4*time.Minute {
		t.Fatalf("get: %+v", got)
	}
	ids, err := m.ListLibraryItemUpdateSession(ctx)
	if err != nil || !slices.Equal(ids, []string{id}) {
		t.Fatalf("list = %v, %v; want [%s]", ids, err, id)
	}
	before := byID(t, ns, id).Status.LastActivity.Time
	if err := m.KeepAliveLibraryItemUpdateSession(ctx, id); err != nil {
		t.Fatalf("keep-alive: %v", err)
	}
	if after := byID(t, ns, id).Status.LastActivity.Time; !after.After(before) {
		t.Fatalf("keep-alive did not move lastActivity: %v, was %v", after, before)
	}
	if err := m.CompleteLibraryItemUpdateSession(ctx, id); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if err := m.WaitOnLibraryItemUpdateSession(ctx, id, 10*time.Millisecond, nil); err != nil {
		t.Fatalf("wait: %v", err)
	}
	if err := m.DeleteLibraryItemUpdateSession(ctx, id); err != nil {
		t.Fatalf("delete: %v", err)
	}

	canceled, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "ova-2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CancelLibraryItemUpdateSession(ctx, canceled); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if st := byID(t, ns, canceled).Status.State; st != v1alpha1.StateCanceled {
		t.Fatalf("state after cancel = %s", st)
	}

	failed, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "ova-3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.FailLibraryItemUpdateSession(ctx, failed); err != nil {
		t.Fatalf("fail: %v", err)
	}
	if err := m.WaitOnLibraryItemUpdateSession(ctx, failed, 10*time.Millisecond, nil); err == nil {
		t.Fatal("waiting on a failed session returned no error")
	}
}

func TestGovmomiSeesErrors(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	m := govmomiManager(t, srv, tokens[srv])
	ctx := context.Background()

	_, err := m.GetLibraryItemUpdateSession(ctx, "5b1e3c1a-0000-4000-8000-000000000000")
	if !rest.IsStatusError(err, 404) {
		t.Errorf("get of an unknown id: %v, want a 404 status error", err)
	}
	if err := m.KeepAliveLibraryItemUpdateSession(ctx, "5b1e3c1a-0000-4000-8000-000000000000"); !rest.IsStatusError(err, 404) {
		t.Errorf("keep-alive of an unknown id: %v, want a 404 status error", err)
	}

	id, err := m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "ova"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.CreateLibraryItemUpdateSession(ctx, library.Session{LibraryItemID: "ova"})
	if err == nil || !strings.HasPrefix(err.Error(), "400 Bad Request:") || !strings.Contains(err.Error(), "resource_busy") {
		t.Errorf("second create for the item: %v, want 400 resource_busy", err)
	}
	if err := m.DeleteLibraryItemUpdateSession(ctx, id); err == nil || !strings.Contains(err.Error(), "not_allowed_in_current_state") {
		t.Errorf("delete of an ACTIVE session: %v, want 400 not_allowed_in_current_state", err)
	}
	if err := m.CompleteLibraryItemUpdateSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func(context.Context, string) error{
		"keep-alive": m.KeepAliveLibraryItemUpdateSession,
		"complete":   m.CompleteLibraryItemUpdateSession,
		"cancel":     m.CancelLibraryItemUpdateSession,
		"fail":       m.FailLibraryItemUpdateSession,
	} {
		err := call(ctx, id)
		if err == nil || !strings.HasPrefix(err.Error(), "400 Bad Request:") || !strings.Contains(err.Error(), "not_allowed_in_current_state") {
			t.Errorf("%s of a DONE session: %v, want 400 not_allowed_in_current_state", name, err)
		}
	}
}
