package rest

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
)

const (
	msgItemBusy = "com.vmware.content.library.item.UpdateSession.item_busy"
	// generateNamePrefix names sessions created through the REST API.
	generateNamePrefix = "us-"
)

// create makes an UpdateSession in the caller's namespace and returns its id. With a
// client_token, a retry returns the session the first call made (see store.Create).
func (s *Server) create(ctx context.Context, c call) (any, error) {
	var in sessionInput
	if err := decodeOptional(c.body, &in); err != nil {
		return nil, err
	}
	us, err := newSession(c.namespace, in)
	if err != nil {
		return nil, err
	}
	return createSession(ctx, s, s.Store, c, us, func(us *v1alpha1.UpdateSession) (bool, error) {
		s.Policy.Sync(us, s.Clock.Now())
		s.Policy.Touch(us, s.Clock.Now())
		return true, nil
	})
}

// newSession builds the UpdateSession a create asks for.
func newSession(namespace string, in sessionInput) (*v1alpha1.UpdateSession, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	wb, err := warningBehaviors(in.WarningBehavior)
	if err != nil {
		return nil, err
	}
	return &v1alpha1.UpdateSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, GenerateName: generateNamePrefix},
		Spec: v1alpha1.UpdateSessionSpec{
			LibraryItemID:             in.LibraryItemID,
			LibraryItemContentVersion: in.LibraryItemContentVersion,
			WarningBehavior:           wb,
		},
	}, nil
}

// list returns the ids of the update sessions in the caller's namespace (see listSessions).
func (s *Server) list(ctx context.Context, c call) (any, error) {
	return listSessions(ctx, s, s.Store, c)
}

// get returns the session's model, read from the API server: the cache may lag behind a
// change the client just made.
func (s *Server) get(ctx context.Context, c call) (any, error) {
	us, err := s.liveSession(ctx, c)
	if err != nil {
		return nil, err
	}
	return toModel(us), nil
}

// update replaces the session's warning_behavior, the one field update applies. It writes
// only what changed: an update that leaves warning_behavior as it was counts as the client's
// activity as a keep-alive does, with no write while lastActivity is fresh.
func (s *Server) update(ctx context.Context, c call) (any, error) {
	var in sessionInput
	if err := decodeOptional(c.body, &in); err != nil {
		return nil, err
	}
	wb, err := warningBehaviors(in.WarningBehavior)
	if err != nil {
		return nil, err
	}
	us := c.own()
	changed, err := s.Store.Update(ctx, us, store.Spec, func(us *v1alpha1.UpdateSession) (bool, error) {
		return session.SetWarningBehavior(us, wb)
	})
	if err != nil {
		return nil, err
	}
	activity := s.Policy.Activity
	if !changed {
		activity = func(us v1alpha1.Session, now time.Time) (bool, error) {
			return s.Policy.KeepAlive(us, nil, now)
		}
	}
	// Recording the activity is secondary: the spec is as the client asked, so the call succeeded.
	written, err := s.Store.Update(ctx, us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		return activity(us, s.Clock.Now())
	})
	if err != nil {
		s.Log.Error(err, "Recording the activity of an update", "session", us.Name)
	} else if !changed && !written {
		metrics.WritesSaved.Inc()
	}
	return nil, nil
}

// keepAliveInput is the optional body of keep-alive.
type keepAliveInput struct {
	ClientProgress *int64 `json:"client_progress"`
}

// keepAlive moves lastActivity and expirationTime to now, and progress when given (see
// keepAliveSession).
func (s *Server) keepAlive(ctx context.Context, c call) (any, error) {
	var in keepAliveInput
	if err := decodeOptional(c.body, &in); err != nil {
		return nil, err
	}
	var refresh refresher[*v1alpha1.UpdateSession]
	if s.Refresher != nil {
		refresh = s.Refresher
	}
	return nil, keepAliveSession(ctx, s, s.Store, c.session, in.ClientProgress, refresh)
}

// complete commits the session's files as its item's next content version and moves it to
// DONE; with PULL transfers under way it is accepted, and the last of them to end completes it.
// It is refused while a PUSH file's bytes have not all arrived, or a file failed. The session
// is read live: the transfer that made a file READY may have run on another replica. Its files
// are frozen (completionRequested) before the commit, so that none is added or removed between
// the commit and DONE; a complete retried after a failed commit commits again, harmlessly.
func (s *Server) complete(ctx context.Context, c call) (any, error) {
	us, err := s.liveSession(ctx, c)
	if err != nil {
		return nil, err
	}
	var how session.Completion
	if _, err := s.Store.Update(ctx, us, store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		var err error
		if how, err = session.CompletionOf(us); err != nil {
			return false, err
		}
		return s.Policy.RequestCompletion(us, s.Clock.Now())
	}); err != nil {
		return nil, err
	}
	if how == session.CompleteAfterPulls {
		return nil, nil
	}
	return nil, s.Completer.Commit(ctx, us)
}

// finishWith returns the handler that moves a session to state: cancel.
func finishWith(state v1alpha1.SessionState) func(*Server, context.Context, call) (any, error) {
	return func(s *Server, ctx context.Context, c call) (any, error) {
		return nil, s.finish(ctx, c.own(), state, "")
	}
}

// fail moves the session to ERROR with the client's message (see failMessage).
func (s *Server) fail(ctx context.Context, c call) (any, error) {
	message, err := failMessage(c.body)
	if err != nil {
		return nil, err
	}
	return nil, s.finish(ctx, c.own(), v1alpha1.StateError, message)
}

// finish moves the session to state; the bytes a session staged go once it did not complete.
func (s *Server) finish(ctx context.Context, us *v1alpha1.UpdateSession, state v1alpha1.SessionState, message string) error {
	err := finishSession(ctx, s, s.Store, us, state, message)
	if err == nil && state != v1alpha1.StateDone {
		s.discard(ctx, us)
	}
	return err
}

// discard deletes the bytes a canceled or failed session staged, at once rather than when the
// session is deleted. The call has succeeded whatever happens here: bytes left behind go when
// the session is deleted, or to the content collector.
func (s *Server) discard(ctx context.Context, us *v1alpha1.UpdateSession) {
	if s.Content == nil {
		return
	}
	if err := s.Content.DiscardSession(ctx, us.Namespace, us.Spec.LibraryItemID, us.UID); err != nil {
		s.Log.Error(err, "Discarding the bytes of a session that ended; they go when it is deleted", "session", us.Name)
	}
}

// delete deletes a session that has ended; an ACTIVE one must be completed, canceled or failed
// first. The delete carries the UID and resourceVersion the check saw.
func (s *Server) delete(ctx context.Context, c call) (any, error) {
	return nil, s.Store.Delete(ctx, c.own(), session.CheckDelete)
}
