package session

import (
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// This file holds the heuristics of keep-alive coalescing: when a keep-alive may be answered
// without a write, and when a session kept alive without pause is written ahead of its
// keep-alives (see package refresh). The lifecycle rules they serve are in session.go and
// actions.go.

// DefaultMaxCoalesce is the default cap of the keep-alive coalescing window
// (--keepalive-coalesce-window). With the 1% rule of CoalesceWindow it bounds what a session
// kept alive after every chunk costs the API server, one write per window, while lastActivity
// lags the latest keep-alive by at most 10 s, the interval at which a kubelet renews its lease.
const DefaultMaxCoalesce = 10 * time.Second

// CoalesceWindow is how fresh lastActivity must be for a keep-alive to be answered without a
// write: the smaller of MaxCoalesce and 1% of the session's timeout.
func (p Policy) CoalesceWindow(s v1alpha1.Session) time.Duration {
	return min(p.MaxCoalesce, p.Timeout(s)/100)
}

// Coalesces reports whether a keep-alive at now changes nothing worth a write: the session is
// ACTIVE, progress is absent or unchanged, and lastActivity is less than CoalesceWindow old.
// The write it saves would have moved expirationTime by less than the window; the session is
// still never deleted before the expirationTime it has.
func (p Policy) Coalesces(s v1alpha1.Session, progress *int64, now time.Time) bool {
	return renewsOnly(s, progress) && now.Sub(s.Lifecycle().LastActivity.Time) < p.CoalesceWindow(s)
}

// DefersToRefresh reports whether a keep-alive at now that does not coalesce may leave its
// write to a refresh of its session already queued or under way (see package refresh): it
// changes nothing but lastActivity, and lastActivity is less than two windows old. So an API
// server too slow for a refresh to land within the window costs keep-alives no wait, while
// after a refresh it fails, the next keep-alive writes, and meets its errors, itself. Should
// the refresh fail, such a keep-alive has moved expirationTime by less than two windows.
func (p Policy) DefersToRefresh(s v1alpha1.Session, progress *int64, now time.Time) bool {
	return renewsOnly(s, progress) && now.Sub(s.Lifecycle().LastActivity.Time) < 2*p.CoalesceWindow(s)
}

// renewsOnly reports whether a keep-alive would change nothing of us but lastActivity: us is
// ACTIVE with a lastActivity, and progress is absent or unchanged.
func renewsOnly(s v1alpha1.Session, progress *int64) bool {
	switch {
	case s.Lifecycle().State != v1alpha1.StateActive || s.Lifecycle().LastActivity == nil:
		return false
	case progress != nil && *progress != s.Lifecycle().ClientProgress:
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
func (p Policy) RefreshDue(s v1alpha1.Session, now time.Time) bool {
	window := p.CoalesceWindow(s)
	return window >= minRefreshWindow && s.Lifecycle().LastActivity != nil &&
		now.Sub(s.Lifecycle().LastActivity.Time) >= window-RefreshLead
}

// Refresh records at, the time of a keep-alive that was answered without a write, as
// lastActivity: only while the session is ACTIVE and still RefreshDue at that time. It reports
// whether it changed anything; a session written since the keep-alive was queued (by another
// keep-alive, or by the refresh of an earlier one) needs nothing.
func (p Policy) Refresh(s v1alpha1.Session, at time.Time) bool {
	if s.Lifecycle().State != v1alpha1.StateActive || !p.RefreshDue(s, at) {
		return false
	}
	p.Touch(s, at)
	return true
}
