package rest

import (
	"context"
	"strings"

	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

const msgItemFileNotFound = "com.vmware.content.library.item.File.not_found"

// listItemFiles returns the files of the item's latest content version, in the caller's
// namespace; an item nothing was committed to has none.
func (s *Server) listItemFiles(ctx context.Context, c call) (any, error) {
	rec, err := s.currentContent(ctx, c.caller, c.namespace, c.item)
	if err != nil {
		return nil, err
	}
	infos := make([]itemFileInfo, 0, len(rec.Files))
	for _, f := range rec.Files {
		infos = append(infos, toItemFile(f))
	}
	return infos, nil
}

// getItemFile returns one file of the item's latest content version.
func (s *Server) getItemFile(ctx context.Context, c call) (any, error) {
	f, err := s.itemFile(ctx, c, paramName)
	if err != nil {
		return nil, err
	}
	return toItemFile(*f), nil
}

// listItemStorage returns where the files of the item's latest content version are stored.
func (s *Server) listItemStorage(ctx context.Context, c call) (any, error) {
	rec, err := s.currentContent(ctx, c.caller, c.namespace, c.item)
	if err != nil {
		return nil, err
	}
	infos := make([]itemStorageInfo, 0, len(rec.Files))
	for _, f := range rec.Files {
		infos = append(infos, s.toItemStorage(f))
	}
	return infos, nil
}

// getItemStorage returns where one file is stored: a list, as vSphere answers (a file may
// have copies on several backings; here it has one).
func (s *Server) getItemStorage(ctx context.Context, c call) (any, error) {
	f, err := s.itemFile(ctx, c, paramFileName)
	if err != nil {
		return nil, err
	}
	return []itemStorageInfo{s.toItemStorage(*f)}, nil
}

// itemFile finds the file the call's parameter key names in the item's latest content.
func (s *Server) itemFile(ctx context.Context, c call, key string) (*content.File, error) {
	name, err := nameParam(c, key)
	if err != nil {
		return nil, err
	}
	rec, err := s.currentContent(ctx, c.caller, c.namespace, c.item)
	if err != nil {
		return nil, err
	}
	f := recordFile(rec, name)
	if f == nil {
		return nil, vapi.Errorf(vapi.NotFound, msgItemFileNotFound, "Library item %q has no file named %q.",
			shortID(c.item), name)
	}
	return f, nil
}

// currentContent reads the record of the latest content version of item in namespace, within
// caller's reads (see ReadLimits): each call lists and reads the content store, so that
// without a budget one caller could spend the store's requests, and on S3 their cost, alone.
func (s *Server) currentContent(ctx context.Context, caller *auth.Caller, namespace, item string) (content.Record, error) {
	if err := s.chargeRead(caller); err != nil {
		return content.Record{}, err
	}
	return s.Content.Current(ctx, namespace, item)
}

// toItemStorage renders a file with its storage: the store's public location (StorageURI) and
// the file's URI in it.
func (s *Server) toItemStorage(f content.File) itemStorageInfo {
	info := itemStorageInfo{itemFileInfo: toItemFile(f), StorageBacking: storageBacking{Type: "OTHER"}, StorageURIs: []string{}}
	if s.StorageURI != "" {
		base := strings.TrimSuffix(s.StorageURI, "/")
		info.StorageBacking.StorageURI = base
		info.StorageURIs = append(info.StorageURIs, base+"/"+f.Key)
	}
	return info
}

// shortID bounds an id a message repeats.
func shortID(id string) string {
	if len(id) > maxShownID {
		return id[:maxShownID] + "..."
	}
	return id
}

// probe asks Pull whether the operator could fetch from a source endpoint.
func (s *Server) probe(ctx context.Context, c call) (any, error) {
	var in transferEndpoint
	if err := decodeOptional(c.body, &in); err != nil {
		return nil, err
	}
	if s.Pull == nil {
		return nil, vapi.Errorf(vapi.Unsupported, msgPullUnsupported, "This server does not fetch PULL files, so it probes no endpoint.")
	}
	ep, err := sourceEndpoint(&in)
	if err != nil {
		return nil, err
	}
	return s.Pull.Probe(ctx, *ep), nil
}
