package controllers_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	k8sevents "k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/controllers"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/index"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestReconcileDiscardsStagedBytes checks that deleting a session that did not complete
// discards what it staged in the content store, and that nothing else does.
func TestReconcileDiscardsStagedBytes(t *testing.T) {
	cases := []struct {
		name        string
		us          *v1alpha1.UpdateSession
		wantStaged  bool
		wantDeleted bool
	}{
		{"an expired session's staged bytes go with it",
			fixtureSession("idle", "a", v1alpha1.StateActive, now.Add(-301*time.Second)), false, true},
		{"a canceled session's staged bytes go when its retention ends",
			fixtureSession("canceled", "b", v1alpha1.StateCanceled, now.Add(-121*time.Second)), false, true},
		{"a failed session's staged bytes go when its retention ends",
			fixtureSession("failed", "c", v1alpha1.StateError, now.Add(-121*time.Second)), false, true},
		{"a completed session's files are its item's content: they stay",
			fixtureSession("done", "d", v1alpha1.StateDone, now.Add(-121*time.Second)), true, true},
		{"an ACTIVE session's staged bytes stay while it lives",
			fixtureSession("kept", "e", v1alpha1.StateActive, now.Add(-10*time.Second)), true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			contents, err := content.Open(ctx, "file://"+t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = contents.Close() }()
			key := content.FileKey(tc.us.Namespace, tc.us.Spec.LibraryItemID, tc.us.UID, "disk.vmdk")
			if _, err := contents.Put(ctx, key, strings.NewReader("staged"), content.Expect{}); err != nil {
				t.Fatal(err)
			}
			c := fake.NewClientBuilder().WithScheme(testenv.Scheme).
				WithObjects(tc.us.DeepCopy()).WithStatusSubresource(&v1alpha1.UpdateSession{}).
				WithIndex(&v1alpha1.UpdateSession{}, index.LibraryItem, index.ByLibraryItem).Build()
			clk := clocktesting.NewFakePassiveClock(now)
			recorder := k8sevents.NewFakeRecorder(10)
			r := &controllers.UpdateSessionReconciler{Reader: c, Store: store.New(c, c, clk), Recorder: recorder,
				Deletions: events.NewDeletions(recorder), Clock: clk, Policy: tablePolicy, Content: contents}
			if _, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(tc.us)}); err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			deleted := c.Get(ctx, client.ObjectKeyFromObject(tc.us), &v1alpha1.UpdateSession{}) != nil
			_, err = contents.Stat(ctx, key)
			if staged := !errors.Is(err, content.ErrNotExist); staged != tc.wantStaged || deleted != tc.wantDeleted {
				t.Fatalf("staged = %v (%v), deleted = %v; want %v, %v", staged, err, deleted, tc.wantStaged, tc.wantDeleted)
			}
		})
	}
}
