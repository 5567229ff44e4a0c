package rest

import (
	"context"
	"errors"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

const (
	msgNotFound         = "com.vmware.content.library.item.UpdateSession.not_found"
	msgDownloadNotFound = "com.vmware.content.library.item.DownloadSession.not_found"
	msgDownloadBusy     = "com.vmware.content.library.item.DownloadSession.busy"
	msgBusy             = "com.vmware.content.library.item.UpdateSession.busy"
	msgUnavailable      = "com.vmware.vapi.std.errors.service_unavailable"
	msgInternal         = "com.vmware.vapi.std.errors.internal_server_error"
)

// retryAfter is the Retry-After of a call refused because a limit on unknown callers was
// reached: the limits refill within a second.
const retryAfter = time.Second

// maxShownID bounds the id an error message repeats.
const maxShownID = 64

func notFound(id string) *vapi.Error {
	if len(id) > maxShownID {
		id = id[:maxShownID] + "..."
	}
	return vapi.Errorf(vapi.NotFound, msgNotFound, "Update session %q does not exist.", id)
}

func downloadNotFound(id string) *vapi.Error {
	if len(id) > maxShownID {
		id = id[:maxShownID] + "..."
	}
	return vapi.Errorf(vapi.NotFound, msgDownloadNotFound, "Download session %q does not exist.", id)
}

// opError is asVAPI for the errors of op: the store's errors about a download session name
// it as one.
func opError(op *operation, err error) *vapi.Error {
	if op != nil && op.resource == resourceDownloadSessions {
		var missing *store.NotFoundError
		var busy *store.BusyError
		switch {
		case errors.As(err, &missing):
			return downloadNotFound(missing.ID)
		case errors.As(err, &busy):
			return vapi.Errorf(vapi.ResourceBusy, msgDownloadBusy,
				"Download session %s is being changed by others; retry.", busy.ID)
		}
	}
	return asVAPI(err)
}

// asVAPI maps any error to the vAPI error the client gets: vAPI errors as they are, the API
// server's refusals to their vAPI counterparts, an unreachable API server to SERVICE_UNAVAILABLE.
func asVAPI(err error) *vapi.Error {
	var verr *vapi.Error
	var netErr net.Error
	var missing *store.NotFoundError
	var busy *store.BusyError
	var itemBusy *store.ItemBusyError
	switch {
	case errors.As(err, &verr):
		return verr
	case errors.As(err, &missing):
		return notFound(missing.ID)
	case errors.Is(err, errLookupThrottled):
		e := vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "Cannot look the session up now: %v.", err)
		e.RetryAfter = retryAfter
		return e
	case errors.Is(err, store.ErrTokenReused):
		return invalidArgument("%s", err.Error())
	case errors.As(err, &itemBusy):
		return vapi.Errorf(vapi.ResourceBusy, msgItemBusy,
			"Library item %s already has an ACTIVE update session, %s.", itemBusy.Item, itemBusy.Holder)
	case errors.As(err, &busy):
		return vapi.Errorf(vapi.ResourceBusy, msgBusy, "Update session %s is being changed by others; retry.", busy.ID)
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
