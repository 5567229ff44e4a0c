package download

import (
	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// Message identifiers of the refusals of a download.
const (
	msgNotActive = "com.vmware.content.library.item.DownloadSession.not_active"
	msgFileState = "com.vmware.content.library.item.downloadsession.File.invalid_state"
)

// FileByID returns the file of ds prepared with transfer id id, nil if none.
func FileByID(ds *v1alpha1.DownloadSession, id string) *v1alpha1.DownloadFile {
	for i := range ds.Status.Files {
		if f := &ds.Status.Files[i]; f.TransferID == id && id != "" {
			return f
		}
	}
	return nil
}

// Servable checks that file f of ds may be read now: the session is ACTIVE (a session canceled
// or failed has its download URIs invalidated, as vSphere's cancel says) and f is PREPARED.
func Servable(ds *v1alpha1.DownloadSession, f *v1alpha1.DownloadFile) error {
	if st := ds.Status.State; st != v1alpha1.StateActive {
		return vapi.Errorf(vapi.NotAllowedInCurrentState, msgNotActive,
			"Download session %s is in state %s; a download needs state ACTIVE.", ds.Status.ID, st)
	}
	if f.Status != v1alpha1.PreparePrepared {
		return vapi.Errorf(vapi.NotAllowedInCurrentState, msgFileState,
			"File %q is %s, not PREPARED; prepare it again and use the download_endpoint that answers.", f.Name, f.Status)
	}
	return nil
}

// Served records how far the downloads of ds's files have read, by file name: each file's
// bytesTransferred becomes the furthest offset served, never moving back (a ranged reader
// behind another does not undo its progress). It reports whether it changed ds.
func Served(ds *v1alpha1.DownloadSession, furthest map[string]int64) bool {
	changed := false
	for i := range ds.Status.Files {
		f := &ds.Status.Files[i]
		if n, ok := furthest[f.Name]; ok && n > f.BytesTransferred && f.Status == v1alpha1.PreparePrepared {
			f.BytesTransferred = n
			changed = true
		}
	}
	return changed
}
