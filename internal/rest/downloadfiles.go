package rest

import (
	"context"
	"errors"
	"fmt"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/transfer"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// downloadFileInfo is the vSphere downloadsession File.Info, as list, get and prepare return it.
type downloadFileInfo struct {
	Name             string            `json:"name"`
	Size             *int64            `json:"size,omitempty"`
	BytesTransferred int64             `json:"bytes_transferred"`
	Status           string            `json:"status"`
	DownloadEndpoint *transferEndpoint `json:"download_endpoint,omitempty"`
	ChecksumInfo     *checksumInfo     `json:"checksum_info,omitempty"`
	ErrorMessage     *vapi.Message     `json:"error_message,omitempty"`
}

// prepareInput is the body of prepare.
type prepareInput struct {
	FileName     string `json:"file_name"`
	EndpointType string `json:"endpoint_type"`
}

// The endpoint types of prepare.
const (
	endpointHTTPS  = "HTTPS"
	endpointDirect = "DIRECT"
)

const (
	msgNoSuchDownloadFile = "com.vmware.content.library.item.downloadsession.File.not_found"
	msgDirectUnsupported  = "com.vmware.content.library.item.downloadsession.File.direct_unsupported"
	msgPrepareFailed      = "com.vmware.content.library.item.downloadsession.File.prepare_failed"
)

// listDownloadFiles returns every file of the content version the session reads, each with
// its preparation state: UNPREPARED until the client prepares it. A session of an item without
// content has none. The session is read live, as get reads it: the file may have been
// prepared through another replica.
func (s *Server) listDownloadFiles(ctx context.Context, c call) (any, error) {
	ds, rec, err := s.downloadContent(ctx, c)
	if err != nil {
		return nil, err
	}
	infos := make([]downloadFileInfo, 0, len(rec.Files))
	for i := range rec.Files {
		info, err := s.downloadFileInfo(ctx, c, ds, &rec.Files[i])
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// getDownloadFile returns one file of the content version the session reads; INVALID_ARGUMENT
// for a name it does not have.
func (s *Server) getDownloadFile(ctx context.Context, c call) (any, error) {
	name, err := nameParam(c, paramFileName)
	if err != nil {
		return nil, err
	}
	ds, rec, err := s.downloadContent(ctx, c)
	if err != nil {
		return nil, err
	}
	f, err := contentFile(ds, rec, name)
	if err != nil {
		return nil, err
	}
	return s.downloadFileInfo(ctx, c, ds, f)
}

// prepareDownloadFile makes a file of the session's content version ready to download. Its
// bytes are in the content store already: the file is PREPARED at once, with its size,
// checksum and a fresh transfer id that its download URI carries, in one write that also
// counts as the client's activity. A file whose bytes are missing from the store is recorded
// in ERROR, and answered so. Only HTTPS endpoints are served: DIRECT, a datastore path, is
// UNSUPPORTED.
func (s *Server) prepareDownloadFile(ctx context.Context, c call) (any, error) {
	var in prepareInput
	if err := decodeOptional(c.body, &in); err != nil {
		return nil, err
	}
	switch in.EndpointType {
	case "", endpointHTTPS:
	case endpointDirect:
		return nil, vapi.Errorf(vapi.Unsupported, msgDirectUnsupported,
			"This server serves files over HTTPS only; prepare file %q with endpoint_type HTTPS.", in.FileName)
	default:
		return nil, invalidArgument("endpoint_type %q is not one of HTTPS, DIRECT", in.EndpointType)
	}
	if in.FileName == "" {
		return nil, invalidArgument("file_name is required")
	}
	if err := session.RequireActive(c.download); err != nil {
		return nil, err
	}
	rec, err := s.Content.Version(ctx, c.download.Namespace, c.download.Spec.LibraryItemID, c.download.Status.ContentVersion)
	if err != nil {
		return nil, err
	}
	f, err := contentFile(c.download, rec, in.FileName)
	if err != nil {
		return nil, err
	}
	prepared, err := s.prepared(ctx, f)
	if err != nil {
		return nil, err
	}
	ds := c.ownDownload()
	if _, err := s.Downloads.Update(ctx, ds, store.Status, func(ds *v1alpha1.DownloadSession) (bool, error) {
		return s.Policy.PrepareFile(ds, prepared, s.Clock.Now())
	}); err != nil {
		return nil, err
	}
	return s.downloadFileInfo(ctx, c, ds, f)
}

// prepared is the state of f once prepared: PREPARED when the store has its bytes, whole,
// else ERROR with the reason.
func (s *Server) prepared(ctx context.Context, f *content.File) (v1alpha1.DownloadFile, error) {
	info, err := s.Content.Stat(ctx, f.Key)
	switch {
	case errors.Is(err, content.ErrNotExist):
		return failedPrepare(f, "The content store does not have the bytes of file %q.", f.Name), nil
	case err != nil:
		return v1alpha1.DownloadFile{}, fmt.Errorf("reading the content store: %w", err)
	case info.Size != f.Size:
		return failedPrepare(f, "The content store holds %d bytes of file %q, not the %d of its content version.",
			info.Size, f.Name, f.Size), nil
	}
	return v1alpha1.DownloadFile{
		Name:       f.Name,
		Status:     v1alpha1.PreparePrepared,
		Size:       f.Size,
		Checksum:   &v1alpha1.FileChecksum{Algorithm: v1alpha1.ChecksumAlgorithm(f.Checksum.Algorithm), Checksum: f.Checksum.Value},
		TransferID: transfer.NewID(),
	}, nil
}

// failedPrepare is f in ERROR, for the reason format and args say.
func failedPrepare(f *content.File, format string, args ...any) v1alpha1.DownloadFile {
	return v1alpha1.DownloadFile{Name: f.Name, Status: v1alpha1.PrepareError, ErrorMessage: fmt.Sprintf(format, args...)}
}

// downloadContent reads the call's session live, within the caller's reads, and the record of
// the content version it reads.
func (s *Server) downloadContent(ctx context.Context, c call) (*v1alpha1.DownloadSession, content.Record, error) {
	ds, err := liveSessionOf(ctx, s, s.Downloads, c, c.download)
	if err != nil {
		return nil, content.Record{}, err
	}
	rec, err := s.Content.Version(ctx, ds.Namespace, ds.Spec.LibraryItemID, ds.Status.ContentVersion)
	return ds, rec, err
}

// contentFile is the file name of rec, the content version ds reads; INVALID_ARGUMENT, as
// vSphere answers, when there is none.
func contentFile(ds *v1alpha1.DownloadSession, rec content.Record, name string) (*content.File, error) {
	if f := recordFile(rec, name); f != nil {
		return f, nil
	}
	if rec.Version == 0 {
		return nil, vapi.Errorf(vapi.InvalidArgument, msgNoSuchDownloadFile,
			"Download session %s has no file named %q: library item %s had no content when the session was created.",
			ds.Status.ID, name, ds.Spec.LibraryItemID)
	}
	return nil, vapi.Errorf(vapi.InvalidArgument, msgNoSuchDownloadFile,
		"Download session %s has no file named %q: content version %d of library item %s has no such file.",
		ds.Status.ID, name, rec.Version, ds.Spec.LibraryItemID)
}

// downloadFileInfo renders f of the content version ds reads, as the session's status has it:
// UNPREPARED when it is not there. A PREPARED file has its download endpoint while ds is
// ACTIVE.
func (s *Server) downloadFileInfo(ctx context.Context, c call, ds *v1alpha1.DownloadSession, f *content.File) (downloadFileInfo, error) {
	info := downloadFileInfo{Name: f.Name, Size: new(f.Size), Status: string(v1alpha1.PrepareUnprepared)}
	df := session.DownloadFile(ds, f.Name)
	if df == nil {
		return info, nil
	}
	info.Status, info.BytesTransferred = string(df.Status), df.BytesTransferred
	if sum := df.Checksum; sum != nil {
		info.ChecksumInfo = &checksumInfo{Algorithm: string(sum.Algorithm), Checksum: sum.Checksum}
	}
	switch {
	case df.Status == v1alpha1.PrepareError:
		info.ErrorMessage = &vapi.Message{ID: msgPrepareFailed, DefaultMessage: df.ErrorMessage, Args: []string{}}
	case df.Status == v1alpha1.PreparePrepared && ds.Status.State == v1alpha1.StateActive:
		uri, err := s.TransferURI(ctx, c.origin, ds, df.Name, df.TransferID)
		if err != nil {
			return downloadFileInfo{}, err
		}
		info.DownloadEndpoint = &transferEndpoint{URI: uri}
	}
	return info, nil
}
