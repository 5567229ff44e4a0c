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
