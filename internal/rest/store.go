package rest

import (
	"context"
	"errors"
	"net"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// IDIndex is the cache index that finds a session by status.id.
const IDIndex = "status.id"

// maxWriteAttempts bounds the retries of a write that keeps conflicting.
const maxWriteAttempts = 5

const (
	msgNotFound    = "com.vmware.content.library.item.UpdateSession.not_found"
	msgBusy        = "com.vmware.content.library.item.UpdateSession.busy"
	msgUnavailable = "com.vmware.vapi.std.errors.service_unavailable"
	msgInternal    = "com.vmware.vapi.std.errors.internal_server_error"
	msgInvalid     = "com.vmware.content.library.item.UpdateSession.invalid"
)

// IndexSessionID registers IDIndex on the manager's cache.
func IndexSessionID(ctx context.Context, indexer client.FieldIndexer) error {
	return indexer.IndexField(ctx, &v1alpha1.UpdateSession{}, IDIndex, func(o client.Object) []string {
		if id := o.(*v1alpha1.UpdateSession).Status.ID; id != "" {
			return []string{id}
		}
		return nil
	})
}

// get finds the session with the given id in the cache.
func (s *Server) get(ctx context.Context, id string) (*v1alpha1.UpdateSession, error) {
	var list v1alpha1.UpdateSessionList
	if err := s.Client.List(ctx, &list, client.MatchingFields{IDIndex: id}); err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		return nil, notFound(id)
	}
	return &list.Items[0], nil
}

// mutate applies change to the session with the given id and writes its status with
// optimistic concurrency: the first attempt starts from the cache (no read before the write);
// a conflict is retried on the live object, on which change is applied anew.
func (s *Server) mutate(ctx context.Context, id string, change func(*v1alpha1.UpdateSession) error) error {
	us, err := s.get(ctx, id)
	for attempt := 1; err == nil; attempt++ {
		updated := us.DeepCopy()
		if err := change(updated); err != nil {
			return err
		}
		patch := client.MergeFromWithOptions(us, client.MergeFromWithOptimisticLock{})
		err = s.Client.Status().Patch(ctx, updated, patch)
		if !apierrors.IsConflict(err) {
			break
		}
		if attempt == maxWriteAttempts {
			return vapi.Errorf(vapi.ResourceBusy, msgBusy,
				"Update session %s is being changed by others; retry.", id)
		}
		us, err = s.live(ctx, us)
	}
	if apierrors.IsNotFound(err) {
		return notFound(id)
	}
	return err
}

// live reads the current version of us from the API server.
func (s *Server) live(ctx context.Context, us *v1alpha1.UpdateSession) (*v1alpha1.UpdateSession, error) {
	var fresh v1alpha1.UpdateSession
	key := types.NamespacedName{Namespace: us.Namespace, Name: us.Name}
	if err := s.APIReader.Get(ctx, key, &fresh); err != nil {
		return nil, err
	}
	if fresh.UID != us.UID {
		return nil, apierrors.NewNotFound(v1alpha1.GroupVersion.WithResource("updatesessions").GroupResource(), us.Name)
	}
	return &fresh, nil
}

func notFound(id string) *vapi.Error {
	return vapi.Errorf(vapi.NotFound, msgNotFound, "Update session %s does not exist.", id)
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
		return vapi.Errorf(vapi.InvalidArgument, msgInvalid, "%s", err.Error())
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
