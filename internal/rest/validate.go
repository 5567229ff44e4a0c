package rest

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// maxDescriptorBytes bounds the OVF descriptor validate reads: descriptors are kilobytes; a
// file of that name larger than this is reported invalid rather than read.
const maxDescriptorBytes = 32 << 20

const msgFilesNotReceived = "com.vmware.content.library.item.UpdateSession.files_not_received"

// validateFiles checks the session's files as complete would take them: a PUSH file whose bytes
// have not all arrived is refused NOT_ALLOWED_IN_CURRENT_STATE (vSphere's "files that will be
// uploaded by the client aren't received correctly"); a file in ERROR, or READY but not in the
// store as its status says, is invalid; a file an OVF descriptor references that the item will
// not have once the session completes is missing. PULL files still transferring are not judged.
func (s *Server) validateFiles(ctx context.Context, c call) (any, error) {
	us, err := s.liveSession(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := checkReceived(us); err != nil {
		return nil, err
	}
	if err := s.chargeRead(c.caller); err != nil { // it reads the store: each file's, and the item's record
		return nil, err
	}
	res := validationResult{MissingFiles: []string{}, InvalidFiles: []validationError{}}
	var descriptors []*v1alpha1.SessionFile
	for i := range us.Status.Files {
		f := &us.Status.Files[i]
		if msg := s.invalidity(ctx, us, f); msg != "" {
			res.InvalidFiles = append(res.InvalidFiles, validationError{Name: f.Name,
				ErrorMessage: vapi.Message{ID: msgFileInvalid, DefaultMessage: msg, Args: []string{}}})
		} else if f.Status == v1alpha1.TransferReady && isDescriptor(f.Name) {
			descriptors = append(descriptors, f)
		}
	}
	if len(descriptors) > 0 {
		if res.MissingFiles, res.InvalidFiles, err = s.checkReferences(ctx, us, descriptors, res.InvalidFiles); err != nil {
			return nil, err
		}
	}
	res.HasErrors = len(res.MissingFiles) > 0 || len(res.InvalidFiles) > 0
	return res, nil
}

// checkReceived refuses validate on a session that is not ACTIVE, or whose PUSH files have not
// all arrived.
func checkReceived(us *v1alpha1.UpdateSession) error {
	if us.Status.State != v1alpha1.StateActive {
		return vapi.Errorf(vapi.NotAllowedInCurrentState, msgFilesNotReceived,
			"Update session %s is in state %s; validate needs state ACTIVE.", us.Status.ID, us.Status.State)
	}
	var owed []string
	for _, f := range us.Status.Files {
		if f.SourceType == v1alpha1.SourcePush && (f.Status == v1alpha1.TransferWaiting || f.Status == v1alpha1.TransferTransferring) {
			owed = append(owed, `"`+f.Name+`"`)
		}
	}
	if len(owed) > 0 {
		return vapi.Errorf(vapi.NotAllowedInCurrentState, msgFilesNotReceived,
			"Update session %s cannot be validated: the bytes of %s have not all arrived.", us.Status.ID, strings.Join(owed, ", "))
	}
	return nil
}

// invalidity says why f is invalid, or "": a failed transfer, or a READY file the store does
// not hold as its status says (its size).
func (s *Server) invalidity(ctx context.Context, us *v1alpha1.UpdateSession, f *v1alpha1.SessionFile) string {
	switch {
	case f.Status == v1alpha1.TransferError:
		return fmt.Sprintf("The transfer of file %q failed: %s", f.Name, f.ErrorMessage)
	case f.Status != v1alpha1.TransferReady:
		return ""
	}
	info, err := s.Content.Stat(ctx, content.FileKey(us.Namespace, us.Spec.LibraryItemID, us.UID, f.Name))
	switch {
	case errors.Is(err, content.ErrNotExist):
		return fmt.Sprintf("File %q is READY but its bytes are not in the store.", f.Name)
	case err != nil:
		return fmt.Sprintf("File %q cannot be checked in the store: %v", f.Name, err)
	case f.Size != nil && info.Size != *f.Size:
		return fmt.Sprintf("File %q has %d bytes in the store, not the %d received.", f.Name, info.Size, *f.Size)
	case f.Size != nil && *f.Size > maxDescriptorBytes && isDescriptor(f.Name):
		return fmt.Sprintf("OVF descriptor %q is larger than %d bytes, the largest validate reads.", f.Name, maxDescriptorBytes)
	}
	return ""
}

// checkReferences lists the files the descriptors reference that the item will not have once
// the session completes (its current files, less those removed, with the session's added);
// a descriptor that is not OVF XML is invalid.
func (s *Server) checkReferences(ctx context.Context, us *v1alpha1.UpdateSession, descriptors []*v1alpha1.SessionFile,
	invalid []validationError) ([]string, []validationError, error) {
	rec, err := s.Content.Current(ctx, us.Namespace, us.Spec.LibraryItemID)
	if err != nil {
		return nil, nil, err
	}
	will := map[string]bool{}
	for _, f := range rec.Files {
		will[f.Name] = !slices.Contains(us.Status.RemovedFiles, f.Name)
	}
	for _, f := range us.Status.Files {
		will[f.Name] = true
	}
	missing := []string{}
	for _, d := range descriptors {
		refs, err := s.descriptorReferences(ctx, us, d.Name)
		if err != nil {
			invalid = append(invalid, validationError{Name: d.Name, ErrorMessage: vapi.Message{ID: msgFileInvalid,
				DefaultMessage: fmt.Sprintf("OVF descriptor %q cannot be read: %v", d.Name, err), Args: []string{}}})
			continue
		}
		for _, ref := range refs {
			if !will[ref] && !slices.Contains(missing, ref) {
				missing = append(missing, ref)
			}
		}
	}
	slices.Sort(missing)
	return missing, invalid, nil
}

// descriptorReferences reads the OVF descriptor name of us from the store.
func (s *Server) descriptorReferences(ctx context.Context, us *v1alpha1.UpdateSession, name string) ([]string, error) {
	r, err := s.Content.Open(ctx, content.FileKey(us.Namespace, us.Spec.LibraryItemID, us.UID, name), 0, maxDescriptorBytes)
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	return ovfReferences(io.LimitReader(r, maxDescriptorBytes))
}

// isDescriptor reports whether a file name is an OVF descriptor's.
func isDescriptor(name string) bool {
	return strings.HasSuffix(strings.ToLower(name), ".ovf")
}

// ovfReferences streams an OVF descriptor and returns the hrefs of the File elements of its
// References section, the files an OVF package is made of, stopping at the section's end. An
// href that is a URL with a scheme names a file outside the package and is left out.
func ovfReferences(r io.Reader) ([]string, error) {
	dec := xml.NewDecoder(r)
	var refs []string
	depth, inRefs, sawEnvelope := 0, false, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not OVF XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && t.Name.Local == "Envelope":
				sawEnvelope = true
			case depth == 2 && t.Name.Local == "References":
				inRefs = true
			case inRefs && depth == 3 && t.Name.Local == "File":
				if href := attr(t, "href"); href != "" && !strings.Contains(href, "://") {
					refs = append(refs, href)
				}
			}
		case xml.EndElement:
			if inRefs && depth == 2 {
				return refs, nil
			}
			depth--
		}
	}
	if !sawEnvelope {
		return nil, errors.New("not OVF XML: no Envelope element")
	}
	return refs, nil
}

// attr is the value of the attribute local (in any namespace, as ovf:href is) of e.
func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
