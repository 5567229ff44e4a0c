package transfer

import (
	"fmt"
	"strings"
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/session"
)

// MaxFetchRestarts is how often a PULL file is fetched anew after the replica fetching it
// stopped or died, before it goes ERROR: a fetch that stops its replica each time (evicted for
// the disk it fills, killed for the memory it takes) is not fetched forever.
const MaxFetchRestarts = 5

// DeadPullMessage is the errorMessage of a PULL file whose fetch ended with its replica more
// often than MaxFetchRestarts allows, or that no replica could fetch anew.
const DeadPullMessage = "The server that fetched the file stopped before the fetch ended, too often to fetch it anew; " +
	"remove the file and add it again."

// SettleDeadPulls finds the PULL files of us whose fetch ended without an end recorded:
// TRANSFERRING with a heartbeat older than fresh at now (its replica died) or none (its replica
// stopped and handed it over). Those that may be fetched anew are returned in restart, when
// restarts are possible; the others are recorded ERROR, and returned in ended. next is how long
// until the heartbeat of the next fetch still running goes stale (0: none runs).
func SettleDeadPulls(us *v1alpha1.UpdateSession, now time.Time, fresh time.Duration, restarts bool) (
	restart, ended []string, next time.Duration) {
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
		if restarts && f.FetchRestarts < MaxFetchRestarts {
			restart = append(restart, f.Name)
			continue
		}
		f.Status, f.TransferHeartbeat, f.ErrorMessage = v1alpha1.TransferError, nil, DeadPullMessage
		ended = append(ended, f.Name)
	}
	return restart, ended, next
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
