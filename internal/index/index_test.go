package index

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

func session(ns, name, item string) *v1alpha1.UpdateSession {
	return &v1alpha1.UpdateSession{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.UpdateSessionSpec{LibraryItemID: item}}
}

// TestLibraryItemIndexKeepsOneKeyPerSession indexes sessions in a client-go indexer, as the
// informer's, and looks them up by the key the cache's List in a namespace uses.
func TestLibraryItemIndexKeepsOneKeyPerSession(t *testing.T) {
	indexer := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, Indexers())
	for _, us := range []*v1alpha1.UpdateSession{
		session("a", "first", "x"), session("a", "second", "x"),
		session("a", "other-item", "y"), session("b", "other-namespace", "x"),
	} {
		if err := indexer.Add(us); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := indexer.ByIndex("field:"+LibraryItem, "a/x")
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(objs))
	for _, obj := range objs {
		names = append(names, obj.(*v1alpha1.UpdateSession).Name)
	}
	slices.Sort(names)
	if want := []string{"first", "second"}; !slices.Equal(names, want) {
		t.Errorf("sessions of item x in a = %v, want %v", names, want)
	}
	if got := indexer.ListIndexFuncValues("field:" + LibraryItem); len(got) != 3 {
		t.Errorf("index keys %v, want one per namespace and item (a/x, a/y, b/x)", got)
	}
}
