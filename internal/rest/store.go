package rest

import (
	"context"
	"errors"
	"net"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/index"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

const (
	// maxWriteAttempts bounds the retries of a write that keeps conflicting.
	maxWriteAttempts = 5
	// maxIDLength bounds a session id; a UID has 36 characters.
	maxIDLength = 64
)

const (
	msgNotFound    = "com.vmware.content.library.item.UpdateSession.not_found"
	msgBusy        = "com.vmware.content.library.item.UpdateSession.busy"
	msgUnavailable = "com.vmware.vapi.std.errors.service_unavailable"
	msgInternal    = "com.vmware.vapi.std.errors.internal_server_error"
)

// find returns the session with the given id: from the cache, or, when the cache does not have
// it (yet: a session created a moment ago on another replica), from the API server.
func (s *Server) find(ctx context.Context, id string) (*v1alpha1.UpdateSession, error) {
	if !validID(id) {
		return nil, notFound(id)
	}
	byID := client.MatchingFields{index.SessionID: id}
	var list v1alpha1.UpdateSessionList
	if err := s.Client.List(ctx, &list, byID); err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		if err := s.APIReader.List(ctx, &list, byID); err != nil {
			return nil, err
		}
	}
	if len(list.Items) == 0 {
		return nil, notFound(id)
	}
	return s.writes.freshest(&list.Items[0]), nil
}

// changeFunc applies an operation to a session, or refuses it.
type changeFunc func(*v1alpha1.UpdateSession) error

// commitFunc writes a changed session to the API server; before is what the change started from.
type commitFunc func(ctx context.Context, before, after *v1alpha1.UpdateSession) error

// apply runs change on us and commits the result, with optimistic concurrency. The first
// attempt starts from the cache: no read before the write. A conflict is retried on the live
// object, with change applied anew; so is a refusal by change, once, since the cache may lag
// behind a write the same client just made. On success, us holds what was written.
func (s *Server) apply(ctx context.Context, us *v1alpha1.UpdateSession, change changeFunc, commit commitFunc) error {
	id, fresh := us.Status.ID, false
	for attempt := 1; ; attempt++ {
		after := us.DeepCopy()
		err := change(after)
		if err == nil {
			err = commit(ctx, us, after)
		}
		var refusal *vapi.Error
		retryable := apierrors.IsConflict(err) || (errors.As(err, &refusal) && !fresh)
		switch {
		case err == nil:
			*us = *after
			return nil
		case apierrors.IsNotFound(err):
			return notFound(id)
		case !retryable:
			return err
		case attempt == maxWriteAttempts:
			return vapi.Errorf(vapi.ResourceBusy, msgBusy, "Update session %s is being changed by others; retry.", id)
		}
		if apierrors.IsConflict(err) {
			metrics.WriteConflicts.Inc()
		}
		live, err := s.live(ctx, us)
		if err != nil {
			return err
		}
		us, fresh = live, true
	}
}

// mutate applies change to the session's status.
func (s *Server) mutate(ctx context.Context, us *v1alpha1.UpdateSession, change changeFunc) error {
	return s.apply(ctx, us, change, func(ctx context.Context, before, after *v1alpha1.UpdateSession) error {
		return s.record(after, s.Client.Status().Patch(ctx, after, optimisticPatch(before)))
	})
}

// mutateSpec applies change to the session's spec.
func (s *Server) mutateSpec(ctx context.Context, us *v1alpha1.UpdateSession, change changeFunc) error {
	return s.apply(ctx, us, change, func(ctx context.Context, before, after *v1alpha1.UpdateSession) error {
		return s.record(after, s.Client.Patch(ctx, after, optimisticPatch(before)))
	})
}

// record remembers a successful write, for the next call on the same session.
func (s *Server) record(written *v1alpha1.UpdateSession, err error) error {
	if err == nil {
		s.writes.record(written)
	}
	return err
}

// optimisticPatch is a merge patch from before that carries its resourceVersion, so that the
// API server refuses it if the object changed since.
func optimisticPatch(before *v1alpha1.UpdateSession) client.Patch {
	return client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
}

// live reads the current version of us from the API server.
func (s *Server) live(ctx context.Context, us *v1alpha1.UpdateSession) (*v1alpha1.UpdateSession, error) {
	var fresh v1alpha1.UpdateSession
	key := types.NamespacedName{Namespace: us.Namespace, Name: us.Name}
	err := s.APIReader.Get(ctx, key, &fresh)
	if apierrors.IsNotFound(err) || (err == nil && fresh.UID != us.UID) {
		return nil, notFound(us.Status.ID)
	}
	return &fresh, err
}

// validID reports whether id could be a session id (a UID): anything else is not found
// without a lookup, and never reaches a field selector.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLength {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-'
	}) < 0
}

func notFound(id string) *vapi.Error {
	if len(id) > maxIDLength {
		id = id[:maxIDLength] + "..."
	}
	return vapi.Errorf(vapi.NotFound, msgNotFound, "Update session %q does not exist.", id)
}

// asVAPI maps any error to the vAPI error the client gets: vAPI errors as they are, the API
// server's refusals to their vAPI counterparts, an unreachable API server to SERVICE_UNAVAILABLE.
func asVAPI(err error) *vapi.Error {
	var verr *vapi.Error
	var netErr net.Error
	switch {
	case errors.As(err, &verr):
		return verr
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return vapi.Errorf(vapi.InvalidArgument, msgInvalidArgument, "%s", err.Error())
	case apierrors.IsNotFound(err):
		return vapi.Errorf(vapi.NotFound, msgNotFound, "%s", err.Error())
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		return vapi.Errorf(vapi.ResourceBusy, msgBusy, "%s", err.Error())
	case apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
		apierrors.IsTooManyRequests(err) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr):
		return vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable,
			"The Kubernetes API server is unavailable: %s", err.Error())
	default:
		return vapi.Errorf(vapi.InternalServerError, msgInternal, "Internal error: %s", err.Error())
	}
}
