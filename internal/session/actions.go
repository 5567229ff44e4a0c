package session

import (
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// Message identifiers of the errors the session rules report.
const (
	msgNotActive       = "com.vmware.content.library.item.UpdateSession.not_active"
	msgInvalidProgress = "com.vmware.content.library.item.UpdateSession.invalid_progress"
)

// KeepAlive applies a keep-alive at now and reports whether it changed anything worth a write:
// the session must be ACTIVE, and progress, when given, must be in 0..100 and not below the
// current progress (equal is accepted). A keep-alive that coalesces (see Coalesces) changes
// nothing, so that the decision is made on the very copy that would be written.
func (p Policy) KeepAlive(us *v1alpha1.UpdateSession, progress *int64, now time.Time) (bool, error) {
	if p.Coalesces(us, progress, now) {
		return false, nil
	}
	if err := requireActive(us); err != nil {
		return false, err
	}
	if progress != nil {
		if err := checkProgress(us, *progress); err != nil {
			return false, err
		}
		us.Status.ClientProgress = *progress
	}
	p.Touch(us, now)
	return true, nil
}

// Activity records a client action other than a keep-alive at now (an update): it is never
// coalesced.
func (p Policy) Activity(us *v1alpha1.UpdateSession, now time.Time) (bool, error) {
	if err := requireActive(us); err != nil {
		return false, err
	}
	p.Touch(us, now)
	return true, nil
}

// CoalesceWindow is how fresh lastActivity must be for a keep-alive to be answered without a
// write: the smaller of MaxCoalesce and 1% of the session's timeout.
func (p Policy) CoalesceWindow(us *v1alpha1.UpdateSession) time.Duration {
	return min(p.MaxCoalesce, p.Timeout(us)/100)
}

// Coalesces reports whether a keep-alive at now changes nothing worth a write: the session is
// ACTIVE, progress is absent or unchanged, and lastActivity is less than CoalesceWindow old.
// The write it saves would have moved expirationTime by less than the window; the session is
// still never deleted before the expirationTime it has.
func (p Policy) Coalesces(us *v1alpha1.UpdateSession, progress *int64, now time.Time) bool {
	return renewsOnly(us, progress) && now.Sub(us.Status.LastActivity.Time) < p.CoalesceWindow(us)
}

// DefersToRefresh reports whether a keep-alive at now that does not coalesce may leave its
// write to a refresh of its session already queued or under way (see package refresh): it
// changes nothing but lastActivity, and lastActivity is less than two windows old. So an API
// server too slow for a refresh to land within the window costs keep-alives no wait, while
// after a refresh it fails, the next keep-alive writes, and meets its errors, itself. Should
// the refresh fail, such a keep-alive has moved expirationTime by less than two windows.
func (p Policy) DefersToRefresh(us *v1alpha1.UpdateSession, progress *int64, now time.Time) bool {
	return renewsOnly(us, progress) && now.Sub(us.Status.LastActivity.Time) < 2*p.CoalesceWindow(us)
}

// renewsOnly reports whether a keep-alive would change nothing of us but lastActivity: us is
// ACTIVE with a lastActivity, and progress is absent or unchanged.
func renewsOnly(us *v1alpha1.UpdateSession, progress *int64) bool {
	switch {
	case us.Status.State != v1alpha1.StateActive || us.Status.LastActivity == nil:
		return false
	case progress != nil && *progress != us.Status.ClientProgress:
		return false
	}
	return true
}

// RefreshLead is how long before its coalescing window ends a session kept alive without pause
// is queued for a refresh (see package refresh): a write of lastActivity, batched with other
// sessions', that lands before the window ends, so that the first keep-alive after the window
// finds nothing to write: batched, those writes cost the API server and etcd less CPU each
// (see package refresh). A window shorter than minRefreshWindow is not refreshed: the lead would
// take too large a share of it in extra writes.
const (
	RefreshLead      = 500 * time.Millisecond
	minRefreshWindow = 2 * time.Second
)

// RefreshDue reports whether a keep-alive at now that Coalesces should queue its session for a
// refresh: the window is at least minRefreshWindow and ends within RefreshLead.
func (p Policy) RefreshDue(us *v1alpha1.UpdateSession, now time.Time) bool {
	window := p.CoalesceWindow(us)
	return window >= minRefreshWindow && us.Status.LastActivity != nil &&
		now.Sub(us.Status.LastActivity.Time) >= window-RefreshLead
}

// Refresh records at, the time of a keep-alive that was answered without a write, as
// lastActivity: only while the session is ACTIVE and still RefreshDue at that time. It reports
// whether it changed anything; a session written since the keep-alive was queued (by another
// keep-alive, or by the refresh of an earlier one) needs nothing.
func (p Policy) Refresh(us *v1alpha1.UpdateSession, at time.Time) bool {
	if us.Status.State != v1alpha1.StateActive || !p.RefreshDue(us, at) {
		return false
	}
	p.Touch(us, at)
	return true
}

// Finish moves an ACTIVE session to a terminal state at now; message is kept for ERROR, made
// printable and bounded by CleanMessage.
func (p Policy) Finish(us *v1alpha1.UpdateSession, state v1alpha1.SessionState, message string, now time.Time) (bool, error) {
	if err := requireActive(us); err != nil {
		return false, err
	}
	us.Status.State = state
	if state == v1alpha1.StateError {
		us.Status.ErrorMessage = CleanMessage(message)
	}
	p.Touch(us, now)
	setActiveCondition(us, now)
	return true, nil
}

func requireActive(us *v1alpha1.UpdateSession) error {
	if st := us.Status.State; st.Terminal() {
		return vapi.Errorf(vapi.NotAllowedInCurrentState, msgNotActive,
			"Update session %s is in state %s; the operation needs state ACTIVE.", us.Status.ID, st)
	}
	return nil
}

func checkProgress(us *v1alpha1.UpdateSession, progress int64) error {
	if progress < 0 || progress > 100 {
		return vapi.Errorf(vapi.InvalidArgument, msgInvalidProgress,
			"client_progress %d is outside 0..100.", progress)
	}
	if cur := us.Status.ClientProgress; progress < cur {
		return vapi.Errorf(vapi.InvalidArgument, msgInvalidProgress,
			"client_progress %d is lower than the current progress %d; progress never decreases.", progress, cur)
	}
	return nil
}

// Supersedes reports whether a should stay the one ACTIVE session of its library item rather
// than b: the older one wins, by creation timestamp, then, within the same second (the
// timestamp's precision), by name, so that every replica and every reconcile agrees.
func Supersedes(a, b *v1alpha1.UpdateSession) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// Duplicates returns, of the sessions of one library item, the ACTIVE ones that must fail
// because an older ACTIVE session holds the item, and that older session.
func Duplicates(sessions []v1alpha1.UpdateSession) (holder *v1alpha1.UpdateSession, dups []*v1alpha1.UpdateSession) {
	for i := range sessions {
		us := &sessions[i]
		switch {
		case us.Status.State.Terminal() || !us.DeletionTimestamp.IsZero():
		case holder == nil:
			holder = us
		case Supersedes(us, holder):
			dups = append(dups, holder)
			holder = us
		default:
			dups = append(dups, us)
		}
	}
	return holder, dups
}

// SupersededMessage is the errorMessage of a session failed because holder holds its item,
// and the note of the event that reports it: cleaned by CleanMessage, as the item id may be
// long and, in a session created before the CRD held it to printable text, hold anything. The
// item id comes last, so that a cut spares the holder's name and id.
func SupersededMessage(holder *v1alpha1.UpdateSession) string {
	return CleanMessage("An item has one ACTIVE update session at a time, and an older one, " + holder.Name +
		" (id " + string(holder.UID) + "), holds library item " + holder.Spec.LibraryItemID)
}

// SetWarningBehavior replaces the warning behavior of an ACTIVE session.
func SetWarningBehavior(us *v1alpha1.UpdateSession, wb []v1alpha1.WarningBehavior) (bool, error) {
	if err := requireActive(us); err != nil {
		return false, err
	}
	us.Spec.WarningBehavior = wb
	return true, nil
}

// CheckDelete allows deleting a session only once it has ended, as vCenter does.
func CheckDelete(us *v1alpha1.UpdateSession) error {
	if !us.Status.State.Terminal() {
		return vapi.Errorf(vapi.NotAllowedInCurrentState, msgNotActive,
			"Update session %s is ACTIVE; complete, cancel or fail it before deleting it.", us.Status.ID)
	}
	return nil
}
