package session

import (
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// MaxDownloadFiles is how many files a download session may have prepared: the bound of
// DownloadSessionStatus.files.
const MaxDownloadFiles = 256

const msgTooManyPrepared = "com.vmware.content.library.item.downloadsession.File.too_many"

// DownloadFile returns the download session's file of that name, or nil: a file of the item
// that the client never prepared is not there.
func DownloadFile(ds *v1alpha1.DownloadSession, name string) *v1alpha1.DownloadFile {
	for i := range ds.Status.Files {
		if ds.Status.Files[i].Name == name {
			return &ds.Status.Files[i]
		}
	}
	return nil
}

// RequireActive refuses, NOT_ALLOWED_IN_CURRENT_STATE, an operation on a session that ended.
func RequireActive(s v1alpha1.Session) error { return requireActive(s) }

// PrepareFile records f, the outcome of preparing one file, in an ACTIVE download session at
// now, as a client action. A file already PREPARED stays as it is, with its transfer id: a
// second prepare answers the same download URI, and downloads under way go on.
func (p Policy) PrepareFile(ds *v1alpha1.DownloadSession, f v1alpha1.DownloadFile, now time.Time) (bool, error) {
	if err := requireActive(ds); err != nil {
		return false, err
	}
	switch cur := DownloadFile(ds, f.Name); {
	case cur != nil && cur.Status == v1alpha1.PreparePrepared:
	case cur != nil:
		*cur = f
	case len(ds.Status.Files) >= MaxDownloadFiles:
		return false, vapi.Errorf(vapi.InvalidArgument, msgTooManyPrepared,
			"Download session %s has %d files prepared, as many as a session may hold.", ds.Status.ID, len(ds.Status.Files))
	default:
		ds.Status.Files = append(ds.Status.Files, f)
	}
	p.Touch(ds, now)
	return true, nil
}
