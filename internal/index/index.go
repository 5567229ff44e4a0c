// Package index defines the manager-cache indexes that the reconciler and the REST server look
// UpdateSessions up by.
package index

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

const (
	// SessionID finds a session by status.id, the id of the REST API.
	SessionID = "status.id"
	// LibraryItem finds the sessions of a library item by spec.libraryItemID.
	LibraryItem = "spec.libraryItemID"
)

// Register adds the indexes to the manager's cache.
func Register(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &v1alpha1.UpdateSession{}, SessionID, BySessionID); err != nil {
		return err
	}
	return indexer.IndexField(ctx, &v1alpha1.UpdateSession{}, LibraryItem, ByLibraryItem)
}

// BySessionID indexes a session by status.id, once it has one.
func BySessionID(o client.Object) []string {
	if id := o.(*v1alpha1.UpdateSession).Status.ID; id != "" {
		return []string{id}
	}
	return nil
}

// ByLibraryItem indexes a session by spec.libraryItemID.
func ByLibraryItem(o client.Object) []string {
	return []string{o.(*v1alpha1.UpdateSession).Spec.LibraryItemID}
}
