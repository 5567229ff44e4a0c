package session

import (
	"fmt"
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// Message identifiers of the errors the session rules report.
const (
	msgNotActive       = "com.vmware.content.library.item.%s.not_active"
	msgInvalidProgress = "com.vmware.content.library.item.%s.invalid_progress"
)

// messageID is the message id of kind for the session's kind: "...UpdateSession.not_active".
func messageID(s v1alpha1.Session, kind string) string { return fmt.Sprintf(kind, s.Noun()) }

// noun is the session's kind as messages name it: "Update session".
func noun(s v1alpha1.Session) string {
	if _, ok := s.(*v1alpha1.DownloadSession); ok {
		return "Download session"
	}
	return "Update session"
}

// KeepAlive applies a keep-alive at now and reports whether it changed anything worth a write:
// the session must be ACTIVE, and progress, when given, must be in 0..100 and not below the
// current progress (equal is accepted). A keep-alive that coalesces (see Coalesces) changes
// nothing, so that the decision is made on the very copy that would be written.
func (p Policy) KeepAlive(s v1alpha1.Session, progress *int64, now time.Time) (bool, error) {
	if p.Coalesces(s, progress, now) {
		return false, nil
	}
	if err := requireActive(s); err != nil {
		return false, err
	}
	if progress != nil {
		if err := checkProgress(s, *progress); err != nil {
			return false, err
		}
		s.Lifecycle().ClientProgress = *progress
	}
	p.Touch(s, now)
	return true, nil
}

// Activity records a client action other than a keep-alive at now (an update): it is never
// coalesced.
func (p Policy) Activity(s v1alpha1.Session, now time.Time) (bool, error) {
	if err := requireActive(s); err != nil {
		return false, err
	}
	p.Touch(s, now)
	return true, nil
}

// Finish moves an ACTIVE session to a terminal state at now; message is kept for ERROR, made
// printable and bounded by CleanMessage.
func (p Policy) Finish(s v1alpha1.Session, state v1alpha1.SessionState, message string, now time.Time) (bool, error) {
	if err := requireActive(s); err != nil {
		return false, err
	}
	st := s.Lifecycle()
	st.State = state
	if state == v1alpha1.StateError {
		st.ErrorMessage = CleanMessage(message)
	}
	p.Touch(s, now)
	setActiveCondition(s, now)
	return true, nil
}

func requireActive(s v1alpha1.Session) error {
	if st := s.Lifecycle().State; st.Terminal() {
		return vapi.Errorf(vapi.NotAllowedInCurrentState, messageID(s, msgNotActive),
			"%s %s is in state %s; the operation needs state ACTIVE.", noun(s), s.Lifecycle().ID, st)
	}
	return nil
}

func checkProgress(s v1alpha1.Session, progress int64) error {
	if progress < 0 || progress > 100 {
		return vapi.Errorf(vapi.InvalidArgument, messageID(s, msgInvalidProgress),
			"client_progress %d is outside 0..100.", progress)
	}
	if cur := s.Lifecycle().ClientProgress; progress < cur {
		return vapi.Errorf(vapi.InvalidArgument, messageID(s, msgInvalidProgress),
			"client_progress %d is lower than the current progress %d; progress never decreases.", progress, cur)
	}
	return nil
}

// Supersedes reports whether a should stay the one ACTIVE session of its library item rather
// than b: the older one wins, by creation timestamp, then, within the same second (the
// timestamp's precision), by name, so that every replica and every reconcile agrees.
func Supersedes(a, b v1alpha1.Session) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return a.GetName() < b.GetName()
}

// Duplicates returns, of the sessions of one library item, the ACTIVE ones that must fail
// because an older ACTIVE session holds the item, and that older session; held is false when
// none is ACTIVE.
func Duplicates[S v1alpha1.Session](sessions []S) (holder S, held bool, dups []S) {
	found := false
	for _, us := range sessions {
		switch {
		case us.Lifecycle().State.Terminal() || us.GetDeletionTimestamp() != nil:
		case !found:
			holder, found = us, true
		case Supersedes(us, holder):
			dups = append(dups, holder)
			holder = us
		default:
			dups = append(dups, us)
		}
	}
	return holder, found, dups
}

// SupersededMessage is the errorMessage of a session failed because holder holds its item,
// and the note of the event that reports it: cleaned by CleanMessage, as the item id may be
// long and, in a session created before the CRD held it to printable text, hold anything. The
// item id comes last, so that a cut spares the holder's name and id.
func SupersededMessage(holder v1alpha1.Session) string {
	return CleanMessage("An item has one ACTIVE update session at a time, and an older one, " + holder.GetName() +
		" (id " + string(holder.GetUID()) + "), holds library item " + holder.LibraryItem())
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
		return vapi.Errorf(vapi.NotAllowedInCurrentState, messageID(us, msgNotActive),
			"Update session %s is ACTIVE; complete, cancel or fail it before deleting it.", us.Status.ID)
	}
	return nil
}
