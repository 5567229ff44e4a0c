package rest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
)

// What both kinds of session do alike, over the kind's store: the handlers of each kind decode
// their own inputs and render their own models, and call these for the rest.

// paramClientToken names create's client token.
const paramClientToken = "client_token"

// createSession makes sess, with the call's client_token, and returns its id. init sets the
// new session's status (see store.Create); should that write fail, the reconciler does it.
func createSession[S v1alpha1.Session](ctx context.Context, s *Server, st *store.Store[S], c call, sess S,
	init store.ChangeFunc[S]) (any, error) {
	if err := s.chargeRead(c.caller); err != nil {
		return nil, err
	}
	id, err := st.Create(ctx, sess, c.params[paramClientToken], init)
	var uninitialised *store.UninitialisedError
	if errors.As(err, &uninitialised) {
		s.Log.Error(uninitialised.Err, "Initialising the status of a new session; the reconciler will",
			"kind", sess.Noun(), "session", sess.GetName())
		err = nil
	}
	if id == "" || err != nil {
		return nil, err // no id and no error: a racing create with the same token made a session gone since
	}
	return id, nil
}

// listSessions returns the ids of the sessions in the call's namespace, optionally of one
// library item, oldest first (by creation timestamp, which has second precision, then by
// name). Like get, it reads from the API server: a client must see the session it just
// created or deleted, whichever replica it talked to.
func listSessions[S v1alpha1.Session](ctx context.Context, s *Server, st *store.Store[S], c call) (any, error) {
	if err := s.chargeRead(c.caller); err != nil {
		return nil, err
	}
	sessions, err := st.ListLive(ctx, c.namespace, c.params[paramLibraryItemID])
	if err != nil {
		return nil, err
	}
	slices.SortFunc(sessions, func(a, b S) int {
		if session.Supersedes(a, b) {
			return -1
		}
		return 1
	})
	ids := make([]string, 0, len(sessions))
	for _, one := range sessions {
		if id := one.Lifecycle().ID; id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// liveSessionOf reads cached, the call's session, from the API server within the caller's
// reads: the cache may lag behind a change the client just made, on this replica or another.
func liveSessionOf[S v1alpha1.Session](ctx context.Context, s *Server, st *store.Store[S], c call, cached S) (S, error) {
	if err := s.chargeRead(c.caller); err != nil {
		var none S
		return none, err
	}
	return st.Live(ctx, cached)
}

// refresher writes ahead the keep-alives of sessions kept alive without pause (see package
// refresh); update sessions have one.
type refresher[S v1alpha1.Session] interface {
	Queue(S, time.Time)
	JoinPending(S, time.Time) bool
}

// keepAliveSession moves lastActivity and expirationTime of cached to now, and progress when
// given; when nothing else changes, it answers without a write while lastActivity is still
// fresh, or while a refresh of the session is under way (session.DefersToRefresh). refresh may
// be nil.
func keepAliveSession[S v1alpha1.Session](ctx context.Context, s *Server, st *store.Store[S], cached S,
	progress *int64, refresh refresher[S]) error {
	now := s.Clock.Now()
	if s.Policy.Coalesces(cached, progress, now) {
		metrics.WritesSaved.Inc() // the hot path: answered without copying the session
		if refresh != nil && s.Policy.RefreshDue(cached, now) {
			refresh.Queue(cached, now)
		}
		return nil
	}
	if refresh != nil && s.Policy.DefersToRefresh(cached, progress, now) && refresh.JoinPending(cached, now) {
		metrics.WritesSaved.Inc() // a refresh of the session is on its way: no wait for a write of its own
		return nil
	}
	written, err := st.Update(ctx, copyOf(cached), store.Status, func(one S) (bool, error) {
		return s.Policy.KeepAlive(one, progress, s.Clock.Now())
	})
	if err == nil && !written {
		metrics.WritesSaved.Inc()
	}
	return err
}

// finishSession moves owned, a copy of the call's session, from ACTIVE to state (CANCELED,
// ERROR, DONE), keeping message for ERROR.
func finishSession[S v1alpha1.Session](ctx context.Context, s *Server, st *store.Store[S], owned S,
	state v1alpha1.SessionState, message string) error {
	_, err := st.Update(ctx, owned, store.Status, func(one S) (bool, error) {
		return s.Policy.Finish(one, state, message, s.Clock.Now())
	})
	return err
}

// failInput is the optional body of fail; govmomi sends none.
type failInput struct {
	ClientErrorMessage string `json:"client_error_message"`
}

// failMessage is the client's message of a fail's body. session.Policy.Finish keeps it as
// session.CleanMessage makes it printable and bounded: a long or garbled message is kept in
// part, never refused.
func failMessage(body []byte) (string, error) {
	var in failInput
	if err := decodeOptional(body, &in); err != nil {
		return "", err
	}
	if strings.TrimSpace(in.ClientErrorMessage) == "" {
		return "The client failed the session without a message.", nil
	}
	return in.ClientErrorMessage, nil
}

// copyOf returns a deep copy of a session, to change and write.
func copyOf[S v1alpha1.Session](one S) S { return one.DeepCopyObject().(S) }
