// Package complete turns a completed update session's files into its library item's content:
// the one place that commits a session's files to the content store and then marks the session
// DONE, whether the client's complete does it or the end of the session's last PULL transfer.
package complete

import (
	"context"
	"fmt"

	"k8s.io/utils/clock"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
)

// Completer commits sessions' files and finishes the sessions.
type Completer struct {
	Sessions *store.Updates
	Content  *content.Store
	Policy   session.Policy
	Clock    clock.PassiveClock
}

// Commit writes us's READY files and its removals as its item's next content version, then
// moves us to DONE with that version. It is safe to run again, after a failure or at once by
// another caller: content.Store's Commit of a session that committed already returns that
// record, so a retry (a client's second complete, or the reconciler's after a failed status
// write) finishes the session without a second version, and a session another caller finished
// with that version is left as it is. us is changed to what was written.
func (c *Completer) Commit(ctx context.Context, us *v1alpha1.UpdateSession) error {
	rec, err := c.Content.Commit(ctx, us.Namespace, us.Spec.LibraryItemID, us.UID, Change(us))
	if err != nil {
		return fmt.Errorf("committing the files of update session %s: %w", us.Status.ID, err)
	}
	_, err = c.Sessions.Update(ctx, us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		if us.Status.State == v1alpha1.StateDone && us.Status.ContentVersion == rec.Version {
			return false, nil // another caller (the reconciler, a client's complete) finished it
		}
		return c.Policy.Complete(us, rec.Version, c.Clock.Now())
	})
	return err
}

// Change is what completing us does to its item's content: its READY files are put, where
// they were staged, and the files remove marked are removed.
func Change(us *v1alpha1.UpdateSession) content.Change {
	var ch content.Change
	for _, f := range us.Status.Files {
		if f.Status != v1alpha1.TransferReady {
			continue
		}
		file := content.File{
			Name: f.Name,
			Key:  content.FileKey(us.Namespace, us.Spec.LibraryItemID, us.UID, f.Name),
		}
		if f.Size != nil {
			file.Size = *f.Size
		}
		if f.Checksum != nil {
			file.Checksum = content.Checksum{Algorithm: string(f.Checksum.Algorithm), Value: f.Checksum.Checksum}
		}
		ch.Put = append(ch.Put, file)
	}
	ch.Remove = append(ch.Remove, us.Status.RemovedFiles...)
	return ch
}
