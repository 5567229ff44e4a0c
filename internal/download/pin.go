// Package download holds what download sessions do with the content store: which content
// version a session reads (Pin), and which versions the sessions still read (Pinned).
package download

import (
	"context"
	"errors"
	"fmt"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
)

// Pin fixes the content version a new session reads (one whose status is not initialised yet)
// to its item's latest, and reports whether it changed ds. An item without content pins
// nothing, then or later: the session has no files to prepare, as in vSphere, where a session
// reads the content version its item had when it was created.
func Pin(ctx context.Context, store *content.Store, ds *v1alpha1.DownloadSession) (bool, error) {
	if store == nil || ds.Status.ID != "" || ds.Status.ContentVersion != 0 {
		return false, nil
	}
	rec, err := store.Current(ctx, ds.Namespace, ds.Spec.LibraryItemID)
	switch {
	case errors.Is(err, content.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading the content version of library item %s: %w", ds.Spec.LibraryItemID, err)
	}
	ds.Status.ContentVersion = rec.Version
	return rec.Version != 0, nil
}
