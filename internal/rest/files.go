package rest

import (
	"context"
	"encoding/json"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/pull"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/transfer"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// Puller fetches the bytes of PULL files; Pulls implements it.
type Puller interface {
	// Add records the PULL file f of us with add, claimed for its fetch in the same write, and
	// fetches it in the background; the transfer then writes the file's progress and end to us.
	// An error means the file was not added.
	Add(ctx context.Context, us *v1alpha1.UpdateSession, f v1alpha1.SessionFile,
		add func(*v1alpha1.UpdateSession) (bool, error)) error
	// Probe tells whether the operator could fetch from endpoint, under the rules of a PULL.
	Probe(ctx context.Context, endpoint v1alpha1.SourceEndpoint) pull.ProbeResult
}

// Defaults of the content limits, as the operator's flags have them.
const (
	DefaultMaxFilesPerSession = 64
	DefaultMaxFileBytes       = int64(1) << 40
)

const msgPullUnsupported = "com.vmware.content.library.item.updatesession.File.pull_unsupported"

// addFile adds a file to the session: WAITING_FOR_TRANSFER, with its upload endpoint, for
// PUSH; for PULL, Pull records it with its fetch begun.
func (s *Server) addFile(ctx context.Context, c call) (any, error) {
	var in addSpec
	if err := decodeOptional(c.body, &in); err != nil {
		return nil, err
	}
	f, err := sessionFileOf(in, s.maxFileBytes())
	if err != nil {
		return nil, err
	}
	if f.SourceType == v1alpha1.SourcePull && s.Pull == nil {
		return nil, vapi.Errorf(vapi.Unsupported, msgPullUnsupported,
			"This server does not fetch PULL files; add file %q as PUSH and send its bytes.", f.Name)
	}
	f.TransferID = transfer.NewID()
	us := c.own()
	add := func(us *v1alpha1.UpdateSession) (bool, error) {
		return s.Policy.AddFile(us, f, s.maxFilesPerSession(), s.Clock.Now())
	}
	if f.SourceType == v1alpha1.SourcePull {
		err = s.Pull.Add(ctx, us, f, add)
	} else {
		_, err = s.Store.Update(ctx, us, store.Status, add)
	}
	if err != nil {
		return nil, err
	}
	return s.fileInfo(ctx, c, us, session.File(us, f.Name))
}

// listFiles returns the session's files, read from the API server as get reads the session:
// a transfer's progress may have been written by another replica.
func (s *Server) listFiles(ctx context.Context, c call) (any, error) {
	us, err := s.liveSession(ctx, c)
	if err != nil {
		return nil, err
	}
	infos := make([]fileInfo, 0, len(us.Status.Files))
	for i := range us.Status.Files {
		info, err := s.fileInfo(ctx, c, us, &us.Status.Files[i])
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// getFile returns one file of the session, read from the API server.
func (s *Server) getFile(ctx context.Context, c call) (any, error) {
	name, err := nameParam(c, paramFileName)
	if err != nil {
		return nil, err
	}
	us, err := s.liveSession(ctx, c)
	if err != nil {
		return nil, err
	}
	f := session.File(us, name)
	if f == nil {
		return nil, session.FileNotFound(us, name)
	}
	return s.fileInfo(ctx, c, us, f)
}

// removeFile removes a file from the session, or, when the session has none of that name but
// the item has, marks the item's file to be removed when the session completes.
func (s *Server) removeFile(ctx context.Context, c call) (any, error) {
	name, err := nameParam(c, paramFileName)
	if err != nil {
		return nil, err
	}
	if err := content.CheckName(name); err != nil {
		return nil, invalidArgument("file_name: %v", err)
	}
	inItem := false
	if session.File(c.session, name) == nil {
		rec, err := s.currentContent(ctx, c.caller, c.session.Namespace, c.session.Spec.LibraryItemID)
		if err != nil {
			return nil, err
		}
		inItem = recordFile(rec, name) != nil
	}
	_, err = s.Store.Update(ctx, c.own(), store.Status, func(us *v1alpha1.UpdateSession) (bool, error) {
		return s.Policy.RemoveFile(us, name, inItem, s.Clock.Now())
	})
	return nil, err
}

// liveSession reads the call's session from the API server, within the caller's reads.
func (s *Server) liveSession(ctx context.Context, c call) (*v1alpha1.UpdateSession, error) {
	return liveSessionOf(ctx, s, s.Store, c, c.session)
}

// fileInfo renders f of us, with the upload endpoint of a PUSH file while us is ACTIVE.
func (s *Server) fileInfo(ctx context.Context, c call, us *v1alpha1.UpdateSession, f *v1alpha1.SessionFile) (fileInfo, error) {
	upload := ""
	if f.SourceType == v1alpha1.SourcePush && us.Status.State == v1alpha1.StateActive {
		var err error
		if upload, err = s.TransferURI(ctx, c.origin, us, f.Name, f.TransferID); err != nil {
			return fileInfo{}, err
		}
	}
	return toFileInfo(f, upload), nil
}

// nameParam is the named parameter key: from the path or query (the /api form), else the one
// member of the body (the /rest form's {"file_name": ...}).
func nameParam(c call, key string) (string, error) {
	if v, ok := c.params[key]; ok {
		return v, nil
	}
	var in map[string]json.RawMessage
	if err := decodeOptional(c.body, &in); err != nil {
		return "", err
	}
	var name string
	for k, v := range in {
		if k != key {
			return "", invalidBody("unknown member %q", k)
		}
		if err := json.Unmarshal(v, &name); err != nil {
			return "", invalidBody("member %q must be a string", k)
		}
	}
	if name == "" {
		return "", invalidArgument("%s is required", key)
	}
	return name, nil
}

// recordFile is the file of rec named name, or nil.
func recordFile(rec content.Record, name string) *content.File {
	for i := range rec.Files {
		if rec.Files[i].Name == name {
			return &rec.Files[i]
		}
	}
	return nil
}

// maxFilesPerSession and maxFileBytes are the limits, defaulted.
func (s *Server) maxFilesPerSession() int {
	if s.MaxFilesPerSession > 0 {
		return s.MaxFilesPerSession
	}
	return DefaultMaxFilesPerSession
}

func (s *Server) maxFileBytes() int64 {
	if s.MaxFileBytes > 0 {
		return s.MaxFileBytes
	}
	return DefaultMaxFileBytes
}
