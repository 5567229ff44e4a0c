package transfer

import (
	"fmt"
	"strings"
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/session"
)

// DeadPullMessage is the errorMessage of a PULL file whose transfer died with its replica.
const DeadPullMessage = "The server that fetched the file stopped before it ended; remove the file and add it again."

// EndDeadPulls records ERROR on each PULL file of us whose transfer died: TRANSFERRING with a
// heartbeat older than fresh at now, which no replica will end, as no client will send a PULL
// file again. It returns whether it changed a file, and how long until the heartbeat of the
// next PULL still running goes stale (0: none runs).
func EndDeadPulls(us *v1alpha1.UpdateSession, now time.Time, fresh time.Duration) (changed bool, next time.Duration) {
	for i := range us.Status.Files {
		f := &us.Status.Files[i]
		if f.SourceType != v1alpha1.SourcePull || f.Status != v1alpha1.TransferTransferring {
			continue
		}
		if Running(f, now, fresh) {
			if wait := f.TransferHeartbeat.Add(fresh).Sub(now); next == 0 || wait < next {
				next = wait
			}
			continue
		}
		f.Status, f.TransferHeartbeat, f.ErrorMessage = v1alpha1.TransferError, nil, DeadPullMessage
		changed = true
	}
	return changed, next
}

// PullsEnded reports whether no file of us still waits for or runs a transfer, and describes
// the files whose transfer failed: what a session whose completion was requested waits for.
func PullsEnded(us *v1alpha1.UpdateSession) (ended bool, failed []string) {
	for _, f := range us.Status.Files {
		switch f.Status {
		case v1alpha1.TransferWaiting, v1alpha1.TransferTransferring:
			return false, nil
		case v1alpha1.TransferError:
			failed = append(failed, fmt.Sprintf("%q (%s)", f.Name, f.ErrorMessage))
		}
	}
	return true, failed
}

// PullsFailedMessage is the errorMessage of a session whose completion failed because the
// transfers of failed (as PullsEnded describes them) did.
func PullsFailedMessage(failed []string) string {
	return session.CleanMessage("The session could not complete: the transfer of " + strings.Join(failed, ", ") + " failed.")
}
