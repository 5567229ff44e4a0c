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

// KeepAlive applies a keep-alive at now: the session must be ACTIVE, and progress, when
// given, must be in 0..100 and not below the current progress (equal is accepted).
func (p Policy) KeepAlive(us *v1alpha1.UpdateSession, progress *int64, now time.Time) error {
	if err := requireActive(us); err != nil {
		return err
	}
	if progress != nil {
		if err := checkProgress(us, *progress); err != nil {
			return err
		}
		us.Status.ClientProgress = *progress
	}
	p.Touch(us, now)
	return nil
}

// Finish moves an ACTIVE session to a terminal state at now; message is kept for ERROR.
func (p Policy) Finish(us *v1alpha1.UpdateSession, state v1alpha1.SessionState, message string, now time.Time) error {
	if err := requireActive(us); err != nil {
		return err
	}
	us.Status.State = state
	if state == v1alpha1.StateError {
		us.Status.ErrorMessage = message
	}
	p.Touch(us, now)
	setActiveCondition(us, now)
	return nil
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
