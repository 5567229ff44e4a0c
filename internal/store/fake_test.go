package store

import (
	"cmp"
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/index"
)

// testNow is the fake clock's time in the store's tests.
var testNow = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// api is a fake API server for a Store: the fake client, with what the store sent it counted.
type api struct {
	client.WithWatch
	// raw is the fake client without the counting.
	raw client.WithWatch
	// writes counts status updates and patches, creates the creates, reads the live reads (Get).
	writes, creates, reads int
}

// newAPI returns a fake API server holding objs, whose calls go through funcs (nil fields pass)
// and are counted. Like the API server, it gives a created session a UID.
func newAPI(t *testing.T, funcs interceptor.Funcs, objs ...client.Object) *api {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	a := &api{}
	counted := interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			a.reads++
			if funcs.Get != nil {
				return funcs.Get(ctx, c, key, obj, opts...)
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			a.creates++
			if obj.GetUID() == "" { // named after what the create asks for: its name, else its GenerateName
				obj.SetUID(types.UID("uid-" + cmp.Or(obj.GetName(), obj.GetGenerateName())))
			}
			if funcs.Create != nil {
				return funcs.Create(ctx, c, obj, opts...)
			}
			return c.Create(ctx, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			a.writes++
			if funcs.SubResourceUpdate != nil {
				return funcs.SubResourceUpdate(ctx, c, sub, obj, opts...)
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			a.writes++
			if funcs.Patch != nil {
				return funcs.Patch(ctx, c, obj, patch, opts...)
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
		Delete: funcs.Delete,
		List:   funcs.List,
	}
	a.raw = fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.UpdateSession{}).
		WithIndex(&v1alpha1.UpdateSession{}, index.LibraryItem, index.ByLibraryItem).
		WithIndex(&v1alpha1.UpdateSession{}, idField, func(obj client.Object) []string {
			return []string{obj.(*v1alpha1.UpdateSession).Status.ID}
		}).Build()
	a.WithWatch = interceptor.NewClient(a.raw, counted)
	return a
}

// newTestStore returns a Store on a, reading live objects from a too, on the fake clock.
func newTestStore(a *api) *Updates {
	return New(a, a, clocktesting.NewFakePassiveClock(testNow))
}

// fixture is an ACTIVE session "s" of library item "item" in namespace "ns", its id its UID.
func fixture() *v1alpha1.UpdateSession {
	return &v1alpha1.UpdateSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", UID: "u"},
		Spec:       v1alpha1.UpdateSessionSpec{LibraryItemID: "item"},
		Status:     v1alpha1.UpdateSessionStatus{Lifecycle: v1alpha1.Lifecycle{ID: "u", State: v1alpha1.StateActive}},
	}
}

// stored returns the session named like us as the fake API server holds it.
func stored(t *testing.T, a *api, us *v1alpha1.UpdateSession) *v1alpha1.UpdateSession {
	t.Helper()
	var cur v1alpha1.UpdateSession
	if err := a.raw.Get(context.Background(), client.ObjectKeyFromObject(us), &cur); err != nil {
		t.Fatalf("reading %s from the fake API server: %v", us.Name, err)
	}
	return &cur
}
