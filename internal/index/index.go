// Package index defines the manager-cache indexes that the reconciler and the REST server look
// sessions up by.
package index

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// LibraryItem finds the sessions of a library item by spec.libraryItemID. (Sessions by id are
// the store's own map, kept from the informer's events.)
const LibraryItem = "spec.libraryItemID"

// Register adds the indexes to the manager's cache, for sessions of both kinds.
func Register(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &v1alpha1.UpdateSession{}, LibraryItem, ByLibraryItem); err != nil {
		return err
	}
	return indexer.IndexField(ctx, &v1alpha1.DownloadSession{}, LibraryItem, ByLibraryItem)
}

// ByLibraryItem indexes a session by spec.libraryItemID.
func ByLibraryItem(o client.Object) []string {
	return []string{o.(v1alpha1.Session).LibraryItem()}
}
