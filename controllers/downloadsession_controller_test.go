package controllers_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	k8sevents "k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/controllers"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestReconcileDownloadSession checks the download reconciler's decisions: a new session pins
// its item's latest content version and waits for its deadline; a pinned version stays when a
// newer one is committed; an idle or ended one past its deadline is deleted.
func TestReconcileDownloadSession(t *testing.T) {
	cases := []struct {
		name        string
		ds          *v1alpha1.DownloadSession
		versions    int // committed before the reconcile
		wantVersion int64
		wantDeleted bool
		wantRequeue time.Duration
	}{
		{"a new session pins the latest version", downloadFixture("new", "", 0, now), 2, 2, false, 5 * time.Minute},
		{"a new session of an item without content pins none", downloadFixture("empty", "", 0, now), 0, 0, false, 5 * time.Minute},
		{"a pinned session keeps its version when a newer one exists", downloadFixture("pinned", v1alpha1.StateActive, 1, now), 3, 1, false, 5 * time.Minute},
		{"an idle session past its expiration time is deleted", downloadFixture("idle", v1alpha1.StateActive, 1, now.Add(-301*time.Second)), 1, 1, true, 0},
		{"a canceled session is deleted when its retention ends", downloadFixture("canceled", v1alpha1.StateCanceled, 1, now.Add(-121*time.Second)), 1, 1, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			contents, err := content.Open(ctx, "file://"+t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = contents.Close() }()
			for v := range tc.versions {
				commitVersion(t, contents, tc.ds, v)
			}
			c := fake.NewClientBuilder().WithScheme(testenv.Scheme).
				WithObjects(tc.ds.DeepCopy()).WithStatusSubresource(&v1alpha1.DownloadSession{}).Build()
			clk := clocktesting.NewFakePassiveClock(now)
			recorder := k8sevents.NewFakeRecorder(10)
			r := &controllers.DownloadSessionReconciler{Store: store.NewDownloads(c, c, clk), Recorder: recorder,
				Deletions: events.NewDeletions(recorder), Clock: clk, Policy: tablePolicy, Content: contents}
			res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(tc.ds)})
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			var got v1alpha1.DownloadSession
			err = c.Get(ctx, client.ObjectKeyFromObject(tc.ds), &got)
			if deleted := err != nil; deleted != tc.wantDeleted {
				t.Fatalf("deleted = %v (%v), want %v", deleted, err, tc.wantDeleted)
			}
			if tc.wantDeleted {
				return
			}
			if got.Status.ContentVersion != tc.wantVersion || got.Status.State != v1alpha1.StateActive {
				t.Errorf("status: version %d, state %q; want version %d, ACTIVE", got.Status.ContentVersion, got.Status.State, tc.wantVersion)
			}
			if res.RequeueAfter != tc.wantRequeue {
				t.Errorf("requeue after %v, want %v (the deadline)", res.RequeueAfter, tc.wantRequeue)
			}
		})
	}
}

// downloadFixture is a download session on its own item, last active at active; an empty state
// is a session not yet initialised, and version the content version it pins.
func downloadFixture(name string, state v1alpha1.SessionState, version int64, active time.Time) *v1alpha1.DownloadSession {
	ds := &v1alpha1.DownloadSession{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.NewTime(active.Truncate(time.Second)), Generation: 1},
		Spec: v1alpha1.DownloadSessionSpec{LibraryItemID: "item-" + name},
	}
	if state == "" {
		return ds
	}
	at := metav1.NewMicroTime(active)
	ds.Status.ID, ds.Status.State, ds.Status.LastActivity = string(ds.UID), state, &at
	expires := metav1.NewMicroTime(active.Add(5 * time.Minute))
	ds.Status.ExpirationTime, ds.Status.ContentVersion = &expires, version
	if state.Terminal() {
		ds.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionActive, Status: metav1.ConditionFalse,
			Reason: v1alpha1.ReasonCanceled, LastTransitionTime: metav1.NewTime(active.Truncate(time.Second))}}
	}
	return ds
}

// commitVersion commits content version v+1 of ds's item: one file.
func commitVersion(t *testing.T, contents *content.Store, ds *v1alpha1.DownloadSession, v int) {
	t.Helper()
	ctx := context.Background()
	session := ds.UID + types.UID("-writer-"+strconv.Itoa(v)) // a session commits once
	key := content.FileKey(ds.Namespace, ds.Spec.LibraryItemID, session, "disk.vmdk")
	got, err := contents.Put(ctx, key, strings.NewReader(strings.Repeat("v", v+1)), content.Expect{})
	if err != nil {
		t.Fatal(err)
	}
	file := content.File{Name: "disk.vmdk", Size: got.Size, Checksum: got.Checksum, Key: key}
	if _, err := contents.Commit(ctx, ds.Namespace, ds.Spec.LibraryItemID, session, content.Change{Put: []content.File{file}}); err != nil {
		t.Fatal(err)
	}
}
