package rest

import (
	"context"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/download"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// resourceDownloadSessions is the resource of the API group the download-session operations
// need their verbs on.
const resourceDownloadSessions = "downloadsessions"

// downloadGenerateNamePrefix names download sessions created through the REST API.
const downloadGenerateNamePrefix = "dls-"

// downloadOperations is the download-session API: every route under a form's downloadBase, in
// both URL forms. Its verbs are the update sessions', on downloadsessions.
var downloadOperations = map[route]*operation{
	{http.MethodPost, false, ""}: downloadOperation("download-session-create", verbCreate, (*Server).createDownload,
		func(op *operation) {
			op.creates, op.bodyKey, op.params = true, "create_spec", []string{paramClientToken}
		}),
	{http.MethodGet, false, ""}: downloadOperation("download-session-list", verbList, (*Server).listDownloads,
		func(op *operation) { op.params = []string{paramLibraryItemID} }),
	{http.MethodGet, true, ""}:               downloadOperation("download-session-get", verbGet, (*Server).getDownload),
	{http.MethodDelete, true, ""}:            downloadOperation("download-session-delete", verbDelete, (*Server).deleteDownload),
	{http.MethodPost, true, actionCancel}:    downloadOperation("download-session-cancel", verbUpdate, (*Server).cancelDownload),
	{http.MethodPost, true, actionFail}:      downloadOperation("download-session-fail", verbUpdate, (*Server).failDownload),
	{http.MethodPost, true, actionKeepAlive}: downloadOperation("download-session-keep-alive", verbUpdate, (*Server).keepAliveDownload),
}

// downloadOperation is an operation on download sessions, with options set by with.
func downloadOperation(name, verb string, handle func(*Server, context.Context, call) (any, error),
	with ...func(*operation)) *operation {
	op := &operation{name: name, verb: verb, resource: resourceDownloadSessions, handle: handle}
	for _, f := range with {
		f(op)
	}
	return op
}

// downloadSessionModel is the vSphere DownloadSessionModel, as get returns it.
type downloadSessionModel struct {
	ID            string `json:"id"`
	LibraryItemID string `json:"library_item_id"`
	// LibraryItemContentVersion is absent while the session reads no content version (its
	// item had no content when it was created).
	LibraryItemContentVersion string        `json:"library_item_content_version,omitempty"`
	State                     string        `json:"state"`
	ClientProgress            int64         `json:"client_progress"`
	ExpirationTime            *time.Time    `json:"expiration_time,omitempty"`
	ErrorMessage              *vapi.Message `json:"error_message,omitempty"`
}

// downloadSessionInput is the DownloadSessionModel as create takes it. The fields a client
// cannot set are accepted, so that a model read with get may be sent back, and ignored, as
// vSphere documents them "not used" by create.
type downloadSessionInput struct {
	LibraryItemID string `json:"library_item_id"`

	ID                        any `json:"id"`
	LibraryItemContentVersion any `json:"library_item_content_version"`
	State                     any `json:"state"`
	ClientProgress            any `json:"client_progress"`
	ExpirationTime            any `json:"expiration_time"`
	ErrorMessage              any `json:"error_message"`
}

const msgDownloadClientError = "com.vmware.content.library.item.DownloadSession.client_error"

// toDownloadModel renders a download session as the REST API shows it.
func toDownloadModel(ds *v1alpha1.DownloadSession) downloadSessionModel {
	m := downloadSessionModel{
		ID:             ds.Status.ID,
		LibraryItemID:  ds.Spec.LibraryItemID,
		State:          string(ds.Status.State),
		ClientProgress: ds.Status.ClientProgress,
	}
	if v := ds.Status.ContentVersion; v != 0 {
		m.LibraryItemContentVersion = strconv.FormatInt(v, 10)
	}
	if t := ds.Status.ExpirationTime; t != nil {
		m.ExpirationTime = new(t.UTC())
	}
	if ds.Status.State == v1alpha1.StateError {
		m.ErrorMessage = &vapi.Message{ID: msgDownloadClientError, DefaultMessage: ds.Status.ErrorMessage, Args: []string{}}
	}
	return m
}

// createDownload makes a DownloadSession in the caller's namespace and returns its id. Its
// status is initialised with the item's latest content version pinned, so that the session
// reads that version from its first call on.
func (s *Server) createDownload(ctx context.Context, c call) (any, error) {
	var in downloadSessionInput
	if err := decodeOptional(c.body, &in); err != nil {
		return nil, err
	}
	if err := checkIdentifier(paramLibraryItemID, in.LibraryItemID, true); err != nil {
		return nil, err
	}
	ds := &v1alpha1.DownloadSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.namespace, GenerateName: downloadGenerateNamePrefix},
		Spec:       v1alpha1.DownloadSessionSpec{LibraryItemID: in.LibraryItemID},
	}
	return createSession(ctx, s, s.Downloads, c, ds, func(ds *v1alpha1.DownloadSession) (bool, error) {
		if _, err := download.Pin(ctx, s.Content, ds); err != nil {
			return false, err
		}
		s.Policy.Sync(ds, s.Clock.Now())
		s.Policy.Touch(ds, s.Clock.Now())
		return true, nil
	})
}

// listDownloads returns the ids of the download sessions in the caller's namespace.
func (s *Server) listDownloads(ctx context.Context, c call) (any, error) {
	return listSessions(ctx, s, s.Downloads, c)
}

// getDownload returns the download session's model, read from the API server.
func (s *Server) getDownload(ctx context.Context, c call) (any, error) {
	ds, err := liveSessionOf(ctx, s, s.Downloads, c, c.download)
	if err != nil {
		return nil, err
	}
	return toDownloadModel(ds), nil
}

// downloadKeepAliveInput is the optional body of a download session's keep-alive: its progress
// is "progress", where an update session's is "client_progress".
type downloadKeepAliveInput struct {
	Progress *int64 `json:"progress"`
}

// keepAliveDownload keeps the download session alive, with the client's progress when given.
func (s *Server) keepAliveDownload(ctx context.Context, c call) (any, error) {
	var in downloadKeepAliveInput
	if err := decodeOptional(c.body, &in); err != nil {
		return nil, err
	}
	return nil, keepAliveSession(ctx, s, s.Downloads, c.download, in.Progress, nil)
}

// cancelDownload moves the download session to CANCELED: its download endpoints stop serving.
func (s *Server) cancelDownload(ctx context.Context, c call) (any, error) {
	return nil, finishSession(ctx, s, s.Downloads, c.ownDownload(), v1alpha1.StateCanceled, "")
}

// failDownload moves the download session to ERROR with the client's message, when it sent one.
func (s *Server) failDownload(ctx context.Context, c call) (any, error) {
	message, err := failMessage(c.body)
	if err != nil {
		return nil, err
	}
	return nil, finishSession(ctx, s, s.Downloads, c.ownDownload(), v1alpha1.StateError, message)
}

// deleteDownload deletes the download session in any state, as vSphere allows: downloads under
// way are cut off. The delete carries the UID and resourceVersion of the session it found.
func (s *Server) deleteDownload(ctx context.Context, c call) (any, error) {
	return nil, s.Downloads.Delete(ctx, c.ownDownload(), func(*v1alpha1.DownloadSession) error { return nil })
}
