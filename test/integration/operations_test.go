package integration

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

type model struct {
	ID                        string     `json:"id"`
	LibraryItemID             string     `json:"library_item_id"`
	LibraryItemContentVersion string     `json:"library_item_content_version"`
	State                     string     `json:"state"`
	ClientProgress            int64      `json:"client_progress"`
	ExpirationTime            *time.Time `json:"expiration_time"`
	ErrorMessage              *struct {
		ID             string   `json:"id"`
		DefaultMessage string   `json:"default_message"`
		Args           []string `json:"args"`
	} `json:"error_message"`
	WarningBehavior []struct {
		Type    string `json:"type"`
		Ignored bool   `json:"ignored"`
	} `json:"warning_behavior"`
}

func TestSessionLifecycle(t *testing.T) {
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			ns := env.Namespace(t)
			srv := startOperator(t, ns, 5*time.Minute)

			id := f.create(t, srv, `{"library_item_id": "item-1", "library_item_content_version": "3",
				"warning_behavior": [{"type": "SELF_SIGNED_CERTIFICATE", "ignored": true}]}`)
			us := byID(t, ns, id)
			if us.Spec.LibraryItemID != "item-1" || us.Spec.LibraryItemContentVersion != "3" || us.Status.State != v1alpha1.StateActive {
				t.Fatalf("created %+v", us)
			}

			var m model
			f.result(t, do(t, http.MethodGet, f.item(srv, id), ""), http.StatusOK, &m)
			if m.ID != id || m.LibraryItemID != "item-1" || m.LibraryItemContentVersion != "3" || m.State != "ACTIVE" ||
				m.ClientProgress != 0 || m.ErrorMessage != nil || len(m.WarningBehavior) != 1 || !m.WarningBehavior[0].Ignored {
				t.Fatalf("get: %+v", m)
			}
			if want := us.Status.ExpirationTime.Time; m.ExpirationTime == nil || !m.ExpirationTime.Equal(want) {
				t.Fatalf("expiration_time %v, want %v", m.ExpirationTime, want)
			}

			other := f.create(t, srv, `{"library_item_id": "item-2"}`)
			var ids []string
			f.result(t, do(t, http.MethodGet, f.collection(srv), ""), http.StatusOK, &ids)
			if want := []string{id, other}; !sameElements(ids, want) {
				t.Fatalf("list = %v, want %v in any order", ids, want)
			}
			f.result(t, do(t, http.MethodGet, f.collection(srv)+"?library_item_id=item-2", ""), http.StatusOK, &ids)
			if !slices.Equal(ids, []string{other}) {
				t.Fatalf("list for item-2 = %v, want [%s]", ids, other)
			}

			f.ok(t, do(t, http.MethodPost, f.action(srv, id, "keep-alive"), `{"client_progress": 60}`))
			before := byID(t, ns, id).Status.LastActivity.Time
			f.ok(t, do(t, http.MethodPatch, f.item(srv, id), f.wrap("update_spec",
				`{"warning_behavior": [{"type": "EXPIRED_CERTIFICATE", "ignored": true}, {"type": "UNTRUSTED_CERTIFICATE"}]}`)))
			us = byID(t, ns, id)
			if len(us.Spec.WarningBehavior) != 2 || us.Spec.WarningBehavior[0].Type != v1alpha1.WarningExpired {
				t.Fatalf("warningBehavior after update: %+v", us.Spec.WarningBehavior)
			}
			if !us.Status.LastActivity.After(before) {
				t.Fatalf("update did not count as activity: lastActivity %v, was %v", us.Status.LastActivity, before)
			}

			f.ok(t, do(t, http.MethodPost, f.action(srv, id, "complete"), ""))
			f.result(t, do(t, http.MethodGet, f.item(srv, id), ""), http.StatusOK, &m)
			if m.State != "DONE" || m.ClientProgress != 60 {
				t.Fatalf("after complete: %+v", m)
			}
			f.ok(t, do(t, http.MethodDelete, f.item(srv, id), ""))
			refused(t, do(t, http.MethodGet, f.item(srv, id), ""), 404, "NOT_FOUND")
		})
	}
}

func TestCancelAndFail(t *testing.T) {
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			ns := env.Namespace(t)
			srv := startOperator(t, ns, 5*time.Minute)

			canceled := f.create(t, srv, `{"library_item_id": "a"}`)
			f.ok(t, do(t, http.MethodPost, f.action(srv, canceled, "cancel"), ""))
			if st := byID(t, ns, canceled).Status.State; st != v1alpha1.StateCanceled {
				t.Fatalf("state after cancel = %s", st)
			}

			failed := f.create(t, srv, `{"library_item_id": "b"}`)
			f.ok(t, do(t, http.MethodPost, f.action(srv, failed, "fail"), `{"client_error_message": "checksum mismatch"}`))
			var m model
			f.result(t, do(t, http.MethodGet, f.item(srv, failed), ""), http.StatusOK, &m)
			if m.State != "ERROR" || m.ErrorMessage == nil || m.ErrorMessage.DefaultMessage != "checksum mismatch" {
				t.Fatalf("after fail: %+v", m)
			}
			if msg := byID(t, ns, failed).Status.ErrorMessage; msg != "checksum mismatch" {
				t.Fatalf("status.errorMessage = %q", msg)
			}
			quiet := f.create(t, srv, `{"library_item_id": "c"}`)
			f.ok(t, do(t, http.MethodPost, f.action(srv, quiet, "fail"), "")) // as govmomi sends it
			if msg := byID(t, ns, quiet).Status.ErrorMessage; msg == "" {
				t.Fatal("fail without a message left status.errorMessage empty")
			}
		})
	}
}

func TestOneActiveSessionPerItem(t *testing.T) {
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			ns := env.Namespace(t)
			srv := startOperator(t, ns, 5*time.Minute)
			first := f.create(t, srv, `{"library_item_id": "item"}`)

			before := snapshot(t, ns)
			refused(t, do(t, http.MethodPost, f.collection(srv), f.wrap("create_spec", `{"library_item_id": "item"}`)), f.createBusy, "RESOURCE_BUSY")
			if after := snapshot(t, ns); after != before {
				t.Fatalf("a refused create changed sessions: %s -> %s", before, after)
			}

			f.ok(t, do(t, http.MethodPost, f.action(srv, first, "complete"), ""))
			f.create(t, srv, `{"library_item_id": "item"}`) // the item is free again
		})
	}
}

func TestSecondActiveSessionMadeWithKubectlFails(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	holder := apiURLs.create(t, srv, `{"library_item_id": "shared"}`)
	// Sessions created within the same second are ordered by name: let a second pass, so
	// that the kubectl session is the newer one by its creation timestamp.
	created := byID(t, ns, holder).CreationTimestamp.Time
	time.Sleep(time.Until(created.Add(time.Second)))

	dup := testenv.NewSession(ns, "by-kubectl", 0)
	dup.Spec.LibraryItemID = "shared"
	if err := env.Client.Create(context.Background(), dup); err != nil {
		t.Fatal(err)
	}
	dup = env.WaitFor(t, dup, 10*time.Second, func(us *v1alpha1.UpdateSession) bool {
		return us.Status.State == v1alpha1.StateError
	})
	if !strings.Contains(dup.Status.ErrorMessage, holder) {
		t.Errorf("errorMessage %q does not name the ACTIVE session %s", dup.Status.ErrorMessage, holder)
	}
	if st := byID(t, ns, holder).Status.State; st != v1alpha1.StateActive {
		t.Errorf("the older session is %s, want ACTIVE", st)
	}
}

func TestClientTokenMakesCreateIdempotent(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	createWithToken := func(f urlForm, token, item string) response {
		if f.wrapped {
			body := fmt.Sprintf(`{"client_token": %q, "create_spec": {"library_item_id": %q}}`, token, item)
			return do(t, http.MethodPost, f.collection(srv), body)
		}
		return do(t, http.MethodPost, f.collection(srv)+"?client_token="+token, fmt.Sprintf(`{"library_item_id": %q}`, item))
	}
	for _, f := range forms {
		token := "upload-" + f.name
		var first, again string
		f.result(t, createWithToken(f, token, "item-"+f.name), f.created, &first)
		f.result(t, createWithToken(f, token, "item-"+f.name), f.created, &again)
		if first != again {
			t.Fatalf("%s: the same client_token made two sessions, %s and %s", f.name, first, again)
		}
		refused(t, createWithToken(f, token, "another-item"), 400, "INVALID_ARGUMENT")
	}
	var list v1alpha1.UpdateSessionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil || len(list.Items) != 2 {
		t.Fatalf("%d sessions (%v), want one per form", len(list.Items), err)
	}
}

// byID finds the session with the given id (its UID, initialised or not) in ns through the API
// server.
func byID(t *testing.T, ns, id string) *v1alpha1.UpdateSession {
	t.Helper()
	var list v1alpha1.UpdateSessionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if string(list.Items[i].UID) == id {
			return &list.Items[i]
		}
	}
	t.Fatalf("no session with id %s in %s", id, ns)
	return nil
}

func sameElements(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestConcurrentCreatesWithOneClientToken: 20 creates racing with the same client_token all
// answer the same id; none is refused as RESOURCE_BUSY.
func TestConcurrentCreatesWithOneClientToken(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	for _, f := range forms {
		url, body := f.collection(srv)+"?client_token=race-"+f.name, `{"library_item_id": "raced-`+f.name+`"}`
		if f.wrapped {
			url, body = f.collection(srv), `{"client_token": "race-rest", "create_spec": {"library_item_id": "raced-rest"}}`
		}
		answers := make([]response, 20)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i] = do(t, http.MethodPost, url, body) })
		}
		wg.Wait()
		var first string
		for i, resp := range answers {
			var id string
			f.result(t, resp, f.created, &id)
			if i == 0 {
				first = id
			} else if id != first {
				t.Fatalf("%s: create %d answered %s, create 0 answered %s", f.name, i, id, first)
			}
		}
	}
	var list v1alpha1.UpdateSessionList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil || len(list.Items) != 2 {
		t.Fatalf("%d sessions (%v), want one per form", len(list.Items), err)
	}
}
