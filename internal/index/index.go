// Package index defines the manager-cache index that the reconciler looks the sessions of a
// library item up by.
package index

import (
	"context"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// LibraryItem finds the sessions of a library item by spec.libraryItemID: a List in one
// namespace with MatchingFields{LibraryItem: item} is served by the cache's index of update
// sessions (see Register) as by the API server (a selectable field of the CRDs). (Sessions by
// id are the store's own map, kept from the informer's events.)
const LibraryItem = "spec.libraryItemID"

// Register adds the LibraryItem index to the cache's informer of update sessions. It adds it to
// the informer itself, as the cache's IndexField does, but with one key per session, the
// namespaced one: IndexField keeps a second, for lists across namespaces, that nothing makes,
// and, its keys being two, rebuilds both at every write of a session (every keep-alive's),
// where a single key that did not change is left alone. The index's name and keys are those
// the cache's List looks up (controller-runtime's "field:" name, "namespace/value" keys); a
// List across namespaces finds nothing. Nothing lists download sessions by item through the
// cache: they have no index.
func Register(ctx context.Context, c cache.Cache) error {
	informer, err := c.GetInformer(ctx, &v1alpha1.UpdateSession{}, cache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	return informer.AddIndexers(Indexers())
}

// Indexers is the LibraryItem index as the informer's indexers.
func Indexers() toolscache.Indexers {
	return toolscache.Indexers{"field:" + LibraryItem: namespacedItem}
}

// ByLibraryItem indexes a session by spec.libraryItemID, as the API server selects it; fake
// clients in tests index by it.
func ByLibraryItem(o client.Object) []string {
	return []string{o.(v1alpha1.Session).LibraryItem()}
}

// namespacedItem is ByLibraryItem's value under the session's namespace.
func namespacedItem(obj any) ([]string, error) {
	s, ok := obj.(v1alpha1.Session)
	if !ok {
		return nil, nil
	}
	return []string{s.GetNamespace() + "/" + s.LibraryItem()}, nil
}
