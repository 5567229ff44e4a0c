package transfer

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// Message identifiers of the refusals of a transfer.
const (
	msgFileNotFound = "com.vmware.content.library.item.updatesession.File.not_found"
	msgFileBusy     = "com.vmware.content.library.item.updatesession.File.transfer_in_progress"
	msgFileState    = "com.vmware.content.library.item.updatesession.File.invalid_state"
	msgNotActive    = "com.vmware.content.library.item.UpdateSession.not_active"
)

// BusyAfter is how many progress intervals a TRANSFERRING file's heartbeat stays fresh: a
// transfer whose heartbeat is older died with its replica, and a new one may claim the file.
const BusyAfter = 3

// ErrLost says a transfer no longer holds its file: its session ended, the file was removed
// or added again, or another transfer claimed it after this one's heartbeat went stale.
var ErrLost = vapi.Errorf(vapi.NotAllowedInCurrentState, msgFileState,
	"The transfer no longer holds its file: the session ended, or the file was removed, added again or claimed by a later transfer.")

// FileByID returns the file of us whose transfer id is id, nil if none.
func FileByID(us *v1alpha1.UpdateSession, id string) *v1alpha1.SessionFile {
	for i := range us.Status.Files {
		if f := &us.Status.Files[i]; f.TransferID == id && id != "" {
			return f
		}
	}
	return nil
}

// fileNamed returns the file of us named name, nil if none.
func fileNamed(us *v1alpha1.UpdateSession, name string) *v1alpha1.SessionFile {
	for i := range us.Status.Files {
		if f := &us.Status.Files[i]; f.Name == name {
			return f
		}
	}
	return nil
}

// NoSuchFile is the refusal of a transfer id that names no file of the session.
func NoSuchFile(us *v1alpha1.UpdateSession) error {
	return vapi.Errorf(vapi.NotFound, msgFileNotFound,
		"Update session %s has no file with this upload URI: it was removed or added again; use the upload_endpoint "+
			"its latest add answered.", us.Status.ID)
}

// Claim claims the file of us with transfer id for a new transfer at now: the session must be
// ACTIVE, the file a PUSH file not yet READY, and no other transfer may hold it (a
// TRANSFERRING file whose heartbeat is younger than fresh). The file starts over: TRANSFERRING,
// no bytes, heartbeat now, no error. It returns the heartbeat that identifies the claim.
func Claim(us *v1alpha1.UpdateSession, id string, now time.Time, fresh time.Duration) (metav1.MicroTime, error) {
	return claim(us, id, v1alpha1.SourcePush, now, fresh)
}

// ClaimPull claims the PULL file of us with transfer id for the server's fetch, as Claim does
// a PUSH file for a client's transfer.
func ClaimPull(us *v1alpha1.UpdateSession, id string, now time.Time, fresh time.Duration) (metav1.MicroTime, error) {
	return claim(us, id, v1alpha1.SourcePull, now, fresh)
}

func claim(us *v1alpha1.UpdateSession, id string, source v1alpha1.SourceType, now time.Time, fresh time.Duration) (
	metav1.MicroTime, error) {
	if st := us.Status.State; st.Terminal() {
		return metav1.MicroTime{}, vapi.Errorf(vapi.NotAllowedInCurrentState, msgNotActive,
			"Update session %s is in state %s; a transfer needs state ACTIVE.", us.Status.ID, st)
	}
	f := FileByID(us, id)
	switch {
	case f == nil:
		return metav1.MicroTime{}, NoSuchFile(us)
	case f.SourceType != source && f.SourceType == v1alpha1.SourcePull:
		return metav1.MicroTime{}, vapi.Errorf(vapi.NotAllowedInCurrentState, msgFileState,
			"File %q is a PULL file: the server fetches its bytes.", f.Name)
	case f.SourceType != source:
		return metav1.MicroTime{}, vapi.Errorf(vapi.NotAllowedInCurrentState, msgFileState,
			"File %q is a %s file: the client sends its bytes.", f.Name, f.SourceType)
	case f.Status == v1alpha1.TransferReady:
		return metav1.MicroTime{}, vapi.Errorf(vapi.NotAllowedInCurrentState, msgFileState,
			"File %q is READY: every byte arrived; remove it and add it again to send other bytes.", f.Name)
	case Running(f, now, fresh):
		return metav1.MicroTime{}, Busy(f.Name)
	}
	beat := metav1.NewMicroTime(now.UTC().Truncate(time.Microsecond))
	f.Status, f.BytesTransferred, f.TransferHeartbeat, f.ErrorMessage = v1alpha1.TransferTransferring, 0, &beat, ""
	return beat, nil
}

// Running reports whether a transfer holds f at now: it is TRANSFERRING and its heartbeat is
// younger than fresh.
func Running(f *v1alpha1.SessionFile, now time.Time, fresh time.Duration) bool {
	return f.Status == v1alpha1.TransferTransferring && f.TransferHeartbeat != nil &&
		now.Sub(f.TransferHeartbeat.Time) < fresh
}

// Busy is the refusal of a second transfer into file name while one runs.
func Busy(name string) error {
	e := vapi.Errorf(vapi.ResourceBusy, msgFileBusy,
		"A transfer into file %q is under way; a second one is refused, never interleaved. Retry once it ended.", name)
	e.Status = 409
	return e
}

// held returns the file name of us while the claim identified by beat still holds it.
func held(us *v1alpha1.UpdateSession, name string, beat metav1.MicroTime) (*v1alpha1.SessionFile, error) {
	f := fileNamed(us, name)
	if us.Status.State.Terminal() || f == nil || f.Status != v1alpha1.TransferTransferring ||
		f.TransferHeartbeat == nil || !f.TransferHeartbeat.Equal(&beat) {
		return nil, ErrLost
	}
	return f, nil
}

// Beat records the progress of the claim beat on file name at now: bytes transferred and a new
// heartbeat, which it returns; ErrLost when the claim no longer holds the file.
func Beat(us *v1alpha1.UpdateSession, name string, beat metav1.MicroTime, bytes int64, now time.Time) (metav1.MicroTime, error) {
	f, err := held(us, name, beat)
	if err != nil {
		return beat, err
	}
	next := metav1.NewMicroTime(now.UTC().Truncate(time.Microsecond))
	if !next.After(beat.Time) { // a heartbeat never repeats: it tells this write from the last
		next = metav1.NewMicroTime(beat.Add(time.Microsecond))
	}
	f.BytesTransferred, f.TransferHeartbeat = bytes, &next
	return next, nil
}

// Ready ends the claim beat on file name with every byte received and matched: READY, with
// the size and checksum received.
func Ready(us *v1alpha1.UpdateSession, name string, beat metav1.MicroTime, size int64, algorithm, checksum string) error {
	f, err := held(us, name, beat)
	if err != nil {
		return err
	}
	f.Status, f.BytesTransferred, f.TransferHeartbeat, f.ErrorMessage = v1alpha1.TransferReady, size, nil, ""
	f.Size = &size
	f.Checksum = &v1alpha1.FileChecksum{Algorithm: v1alpha1.ChecksumAlgorithm(algorithm), Checksum: checksum}
	return nil
}

// Failed ends the claim beat on file name with a failure: ERROR, the bytes that did arrive,
// and why, made printable and bounded (see session.CleanMessage).
func Failed(us *v1alpha1.UpdateSession, name string, beat metav1.MicroTime, bytes int64, why string) error {
	f, err := held(us, name, beat)
	if err != nil {
		return err
	}
	f.Status, f.BytesTransferred, f.TransferHeartbeat = v1alpha1.TransferError, bytes, nil
	f.ErrorMessage = session.CleanMessage(why)
	return nil
}

// HandOver ends the claim beat on the PULL file name without ending its fetch, which its
// replica is stopping: TRANSFERRING with the bytes that did arrive and no heartbeat, which no
// transfer holds, and which the leader fetches anew at once (see SettleDeadPulls).
func HandOver(us *v1alpha1.UpdateSession, name string, beat metav1.MicroTime, bytes int64) error {
	f, err := held(us, name, beat)
	if err != nil {
		return err
	}
	f.BytesTransferred, f.TransferHeartbeat = bytes, nil
	return nil
}

// ClaimRestart claims the PULL file of us with transfer id for a fetch anew, as ClaimPull does,
// once its last fetch ended without an end recorded: the file must still be TRANSFERRING, held
// by no transfer (handed over, or its heartbeat stale), and fetched anew fewer than
// MaxFetchRestarts times, which the claim counts. Any other file is ErrLost: it was settled
// meanwhile (ended, fetched anew elsewhere, removed), and there is nothing to fetch.
func ClaimRestart(us *v1alpha1.UpdateSession, id string, now time.Time, fresh time.Duration) (metav1.MicroTime, error) {
	f := FileByID(us, id)
	if f == nil || f.SourceType != v1alpha1.SourcePull || f.Status != v1alpha1.TransferTransferring ||
		Running(f, now, fresh) || f.FetchRestarts >= MaxFetchRestarts {
		return metav1.MicroTime{}, ErrLost
	}
	beat, err := ClaimPull(us, id, now, fresh)
	if err == nil {
		f.FetchRestarts++
	}
	return beat, err
}

// Describe says, for a file's errorMessage, what went wrong with n bytes received.
func Describe(n int64, err error) string {
	return fmt.Sprintf("The transfer failed after %d bytes: %v", n, err)
}
