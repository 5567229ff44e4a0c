package session

import (
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

const (
	msgFileExists    = "com.vmware.content.library.item.updatesession.File.exists"
	msgFileNotFound  = "com.vmware.content.library.item.updatesession.File.not_found"
	msgTooManyFiles  = "com.vmware.content.library.item.updatesession.File.too_many"
	msgCompleting    = "com.vmware.content.library.item.UpdateSession.completing"
	msgFilesNotReady = "com.vmware.content.library.item.UpdateSession.files_not_ready"
)

// File returns the session's file of that name, or nil.
func File(us *v1alpha1.UpdateSession, name string) *v1alpha1.SessionFile {
	for i := range us.Status.Files {
		if us.Status.Files[i].Name == name {
			return &us.Status.Files[i]
		}
	}
	return nil
}

// requireOpen refuses a change to the files of a session that is not ACTIVE, or whose
// completion was already accepted: its files are what the completion commits.
func requireOpen(us *v1alpha1.UpdateSession) error {
	if err := requireActive(us); err != nil {
		return err
	}
	if us.Status.CompletionRequested != nil {
		return vapi.Errorf(vapi.NotAllowedInCurrentState, msgCompleting,
			"Update session %s is completing; its files cannot change.", us.Status.ID)
	}
	return nil
}

// AddFile adds f to an ACTIVE session's files at now, as a client action, unless a file of
// that name is there already or the session holds max files. A name that remove marked for
// removal from the item is unmarked: the new file replaces the item's.
func (p Policy) AddFile(us *v1alpha1.UpdateSession, f v1alpha1.SessionFile, limit int, now time.Time) (bool, error) {
	if err := requireOpen(us); err != nil {
		return false, err
	}
	if File(us, f.Name) != nil {
		return false, vapi.Errorf(vapi.InvalidArgument, msgFileExists,
			"Update session %s already has a file named %q; remove it first to add it again.", us.Status.ID, f.Name)
	}
	if len(us.Status.Files) >= limit {
		return false, vapi.Errorf(vapi.InvalidArgument, msgTooManyFiles,
			"Update session %s already has %d files, as many as a session may hold.", us.Status.ID, len(us.Status.Files))
	}
	us.Status.Files = append(us.Status.Files, f)
	us.Status.RemovedFiles = slices.DeleteFunc(us.Status.RemovedFiles, func(n string) bool { return n == f.Name })
	p.Touch(us, now)
	return true, nil
}

// RemoveFile removes the file name from an ACTIVE session at now, as a client action: a file
// added to the session leaves it (the item keeps its own file of that name, if any); else a
// file of the item (inItem) is marked for removal when the session completes; else it is
// NOT_FOUND.
func (p Policy) RemoveFile(us *v1alpha1.UpdateSession, name string, inItem bool, now time.Time) (bool, error) {
	if err := requireOpen(us); err != nil {
		return false, err
	}
	switch {
	case File(us, name) != nil:
		us.Status.Files = slices.DeleteFunc(us.Status.Files, func(f v1alpha1.SessionFile) bool { return f.Name == name })
	case slices.Contains(us.Status.RemovedFiles, name):
		return false, nil
	case inItem:
		us.Status.RemovedFiles = append(us.Status.RemovedFiles, name)
	default:
		return false, FileNotFound(us, name)
	}
	p.Touch(us, now)
	return true, nil
}

// FileNotFound is the error for a file the session does not have.
func FileNotFound(us *v1alpha1.UpdateSession, name string) error {
	return vapi.Errorf(vapi.NotFound, msgFileNotFound, "Update session %s has no file named %q.", us.Status.ID, name)
}

// Completion is what complete does with a session, as CompletionOf decides it.
type Completion int

const (
	// CompleteNow: every file is READY; the files are committed and the session is DONE.
	CompleteNow Completion = iota
	// CompleteAfterPulls: PULL transfers still run; the session completes when they end.
	CompleteAfterPulls
)

// CompletionOf decides whether complete may commit an ACTIVE session now, must wait for its
// PULL transfers, or is refused (NOT_ALLOWED_IN_CURRENT_STATE, naming the files): a PUSH file
// not READY has bytes the client still owes, and a file in ERROR must be removed or added
// again first.
func CompletionOf(us *v1alpha1.UpdateSession) (Completion, error) {
	if err := requireActive(us); err != nil {
		return 0, err
	}
	var owed, failed []string
	pulling := false
	for _, f := range us.Status.Files {
		switch {
		case f.Status == v1alpha1.TransferReady:
		case f.Status == v1alpha1.TransferError:
			failed = append(failed, f.Name)
		case f.SourceType == v1alpha1.SourcePull:
			pulling = true
		default:
			owed = append(owed, f.Name)
		}
	}
	switch {
	case len(owed) > 0:
		return 0, vapi.Errorf(vapi.NotAllowedInCurrentState, msgFilesNotReady,
			"Update session %s cannot complete: the bytes of %s have not all arrived.", us.Status.ID, quoteNames(owed))
	case len(failed) > 0:
		return 0, vapi.Errorf(vapi.NotAllowedInCurrentState, msgFilesNotReady,
			"Update session %s cannot complete: the transfer of %s failed; remove or add them again.",
			us.Status.ID, quoteNames(failed))
	case pulling:
		return CompleteAfterPulls, nil
	}
	return CompleteNow, nil
}

// RequestCompletion marks an ACTIVE session whose PULL transfers still run as completing.
func (p Policy) RequestCompletion(us *v1alpha1.UpdateSession, now time.Time) (bool, error) {
	if err := requireActive(us); err != nil {
		return false, err
	}
	if us.Status.CompletionRequested != nil {
		return false, nil
	}
	us.Status.CompletionRequested = new(metav1.NewMicroTime(now))
	p.Touch(us, now)
	return true, nil
}

// Complete moves an ACTIVE session to DONE, recording the content version its commit wrote.
func (p Policy) Complete(us *v1alpha1.UpdateSession, contentVersion int64, now time.Time) (bool, error) {
	if _, err := p.Finish(us, v1alpha1.StateDone, "", now); err != nil {
		return false, err
	}
	us.Status.ContentVersion = contentVersion
	return true, nil
}

// quoteNames lists names for a message, quoted.
func quoteNames(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = `"` + n + `"`
	}
	return strings.Join(quoted, ", ")
}
