// Package session holds the rules of a session, update or download, that both the reconciler and the REST
// server apply: its timeout and deadlines, the status the operator maintains, and the state
// machine of client actions. Everything here is pure: time comes in as an argument.
package session

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// Policy holds the operator-wide durations that apply to every session.
type Policy struct {
	// DefaultTimeout is the idle timeout of a session whose spec does not set one.
	DefaultTimeout time.Duration
	// TerminalRetention is how long a session in DONE, ERROR or CANCELED is kept.
	TerminalRetention time.Duration
	// MaxCoalesce caps the window within which a keep-alive that changes nothing else is
	// answered without a write; zero writes every keep-alive.
	MaxCoalesce time.Duration
	// DeletionMargin is how long after its expirationTime an ACTIVE session is deleted at the
	// earliest: it covers replicas whose clocks differ by up to this much (the one that wrote
	// lastActivity, the leader that deletes).
	DeletionMargin time.Duration
}

// Timeout is the idle timeout of us: spec.expirationTimeoutSeconds, else the default.
func (p Policy) Timeout(s v1alpha1.Session) time.Duration {
	if s := s.TimeoutSeconds(); s != nil {
		return time.Duration(*s) * time.Second
	}
	return p.DefaultTimeout
}

// ExpiresAt is lastActivity plus the session's timeout, at the microsecond precision the
// status stores, so that a computed value compares equal to a stored one.
func (p Policy) ExpiresAt(s v1alpha1.Session) time.Time {
	return lastActivity(s).Add(p.Timeout(s)).Truncate(time.Microsecond)
}

// Deadline is how long us is promised to live: the stored expirationTime of an ACTIVE session
// (whatever this replica's default timeout; computed only before the status has one), the end
// of the retention of a terminal one.
func (p Policy) Deadline(s v1alpha1.Session) time.Time {
	if s.Lifecycle().State.Terminal() {
		return terminalSince(s).Add(p.TerminalRetention)
	}
	if st := s.Lifecycle().ExpirationTime; st != nil {
		return st.Time
	}
	return p.ExpiresAt(s)
}

// DeleteAt is when the operator deletes us unless something changes first: its Deadline, plus
// the DeletionMargin for an ACTIVE session.
func (p Policy) DeleteAt(s v1alpha1.Session) time.Time {
	if s.Lifecycle().State.Terminal() {
		return p.Deadline(s)
	}
	return p.Deadline(s).Add(p.DeletionMargin)
}

// Remaining is how long until DeleteAt, or zero when it has passed.
func (p Policy) Remaining(s v1alpha1.Session, now time.Time) time.Duration {
	return max(p.DeleteAt(s).Sub(now), 0)
}

// Sync brings the status the operator keeps for s up to date at now, in place, and reports
// whether it changed anything: initialised on first sight (ACTIVE, progress 0, lastActivity =
// creation), the Active condition following state, and expirationTime set when missing and
// following spec.expirationTimeoutSeconds when the spec sets it. A stored expirationTime is
// otherwise kept: a changed --session-timeout applies from a session's next activity, and
// never moves a promise made with the old one.
func (p Policy) Sync(s v1alpha1.Session, now time.Time) bool {
	st := s.Lifecycle()
	before := st.DeepCopy()
	if st.ID == "" {
		st.ID = string(s.GetUID())
	}
	if st.State == "" {
		st.State = v1alpha1.StateActive
	}
	if st.LastActivity == nil {
		st.LastActivity = microTime(s.GetCreationTimestamp().Time)
	}
	if !st.State.Terminal() && (st.ExpirationTime == nil || s.TimeoutSeconds() != nil) {
		st.ExpirationTime = microTime(p.ExpiresAt(s))
	}
	setActiveCondition(s, now)
	return !equality.Semantic.DeepEqual(before, st)
}

// Touch records a client action at now: lastActivity moves to now (never back, should the
// clocks of two replicas disagree) and expirationTime follows it.
func (p Policy) Touch(s v1alpha1.Session, now time.Time) {
	if last := lastActivity(s); now.Before(last) {
		now = last
	}
	s.Lifecycle().LastActivity = microTime(now)
	s.Lifecycle().ExpirationTime = microTime(p.ExpiresAt(s))
}

// lastActivity is status.lastActivity, or the creation time before the status is initialised.
func lastActivity(s v1alpha1.Session) time.Time {
	if s.Lifecycle().LastActivity != nil {
		return s.Lifecycle().LastActivity.Time
	}
	return s.GetCreationTimestamp().Time
}

// terminalSince is when us reached its terminal state: the later of the Active condition's
// transition (second precision, stamped by whoever saw the transition first) and lastActivity
// (the REST server moves it with the state, to the microsecond).
func terminalSince(s v1alpha1.Session) time.Time {
	since := lastActivity(s)
	if c := meta.FindStatusCondition(s.Lifecycle().Conditions, v1alpha1.ConditionActive); c != nil &&
		c.Status == metav1.ConditionFalse && c.LastTransitionTime.After(since) {
		since = c.LastTransitionTime.Time
	}
	return since
}

// setActiveCondition makes the Active condition match the state; a new transition is
// stamped with now.
func setActiveCondition(s v1alpha1.Session, now time.Time) {
	c := metav1.Condition{
		Type:               v1alpha1.ConditionActive,
		Status:             metav1.ConditionTrue,
		Reason:             v1alpha1.ReasonActive,
		Message:            "The session is active and expires when idle past its expiration time.",
		ObservedGeneration: s.GetGeneration(),
		LastTransitionTime: metav1.NewTime(now.Truncate(time.Second)),
	}
	switch s.Lifecycle().State {
	case v1alpha1.StateDone:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonCompleted, "The client completed the session."
	case v1alpha1.StateCanceled:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ReasonCanceled, "The client canceled the session."
	case v1alpha1.StateError:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.ReasonFailed
		c.Message = fmt.Sprintf("The session failed: %s", s.Lifecycle().ErrorMessage)
	}
	meta.SetStatusCondition(&s.Lifecycle().Conditions, c)
}

func microTime(t time.Time) *metav1.MicroTime {
	m := metav1.NewMicroTime(t.UTC().Truncate(time.Microsecond))
	return &m
}
