package rest

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/url"
	"strconv"
	"strings"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/pull"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// checksumInfo is the vSphere File.ChecksumInfo.
type checksumInfo struct {
	Algorithm string `json:"algorithm,omitempty"`
	Checksum  string `json:"checksum"`
}

// transferEndpoint is the vSphere TransferEndpoint. ssl_certificate is what govmomi sends when
// a probe answered with a certificate rather than a thumbprint.
type transferEndpoint struct {
	URI                      string `json:"uri"`
	SSLCertificateThumbprint string `json:"ssl_certificate_thumbprint,omitempty"`
	SSLCertificate           string `json:"ssl_certificate,omitempty"`
}

// fileInfo is the vSphere updatesession File.Info, as add, get and list return it.
type fileInfo struct {
	Name             string            `json:"name"`
	SourceType       string            `json:"source_type"`
	Size             *int64            `json:"size,omitempty"`
	ChecksumInfo     *checksumInfo     `json:"checksum_info,omitempty"`
	SourceEndpoint   *transferEndpoint `json:"source_endpoint,omitempty"`
	UploadEndpoint   *transferEndpoint `json:"upload_endpoint,omitempty"`
	BytesTransferred int64             `json:"bytes_transferred"`
	Status           string            `json:"status"`
	ErrorMessage     *vapi.Message     `json:"error_message,omitempty"`
	KeepInStorage    bool              `json:"keep_in_storage"`
}

// addSpec is the vSphere File.AddSpec. The fields of File.Info that a client cannot set are
// accepted and ignored, so that an info read with get may be sent back (govmomi sends its
// UpdateFile, which has them, to add).
type addSpec struct {
	Name           string            `json:"name"`
	SourceType     string            `json:"source_type"`
	SourceEndpoint *transferEndpoint `json:"source_endpoint"`
	Size           *int64            `json:"size"`
	ChecksumInfo   *checksumInfo     `json:"checksum_info"`

	UploadEndpoint   any `json:"upload_endpoint"`
	BytesTransferred any `json:"bytes_transferred"`
	Status           any `json:"status"`
	ErrorMessage     any `json:"error_message"`
	KeepInStorage    any `json:"keep_in_storage"`
}

// validationResult is the vSphere File.ValidationResult.
type validationResult struct {
	HasErrors    bool              `json:"has_errors"`
	MissingFiles []string          `json:"missing_files"`
	InvalidFiles []validationError `json:"invalid_files"`
}

type validationError struct {
	Name         string       `json:"name"`
	ErrorMessage vapi.Message `json:"error_message"`
}

// itemFileInfo is the vSphere item File.Info; itemStorageInfo the Storage.Info.
type itemFileInfo struct {
	ChecksumInfo *checksumInfo `json:"checksum_info,omitempty"`
	Name         string        `json:"name"`
	Size         int64         `json:"size"`
	Cached       bool          `json:"cached"`
	Version      string        `json:"version"`
}

type itemStorageInfo struct {
	StorageBacking storageBacking `json:"storage_backing"`
	StorageURIs    []string       `json:"storage_uris"`
	itemFileInfo
}

// storageBacking is the vSphere StorageBacking: this server's store is no datastore (OTHER).
type storageBacking struct {
	Type       string `json:"type"`
	StorageURI string `json:"storage_uri,omitempty"`
}

const (
	msgFileError       = "com.vmware.content.library.item.updatesession.File.error"
	msgInvalidFileSpec = "com.vmware.content.library.item.updatesession.File.invalid_spec"
	msgFileInvalid     = "com.vmware.content.library.item.updatesession.File.invalid"
)

// digestLengths are the hex lengths of each algorithm's digests.
var digestLengths = map[v1alpha1.ChecksumAlgorithm]int{
	v1alpha1.ChecksumSHA1: 40, v1alpha1.ChecksumMD5: 32, v1alpha1.ChecksumSHA256: 64, v1alpha1.ChecksumSHA512: 128,
}

// maxEndpointURI bounds a source endpoint's URI, as the schema does.
const maxEndpointURI = 4096

func invalidSpec(format string, args ...any) *vapi.Error {
	return vapi.Errorf(vapi.InvalidArgument, msgInvalidFileSpec, format+".", args...)
}

// sessionFileOf checks an AddSpec and builds the file it adds, WAITING_FOR_TRANSFER: the name
// as content.CheckName allows it, a size within maxBytes, a checksum of a known algorithm (SHA1
// when none is named, as vSphere does) and digest length, and for PULL an http or https source.
func sessionFileOf(in addSpec, maxBytes int64) (v1alpha1.SessionFile, error) {
	if err := content.CheckName(in.Name); err != nil {
		return v1alpha1.SessionFile{}, invalidSpec("name: %v", err)
	}
	f := v1alpha1.SessionFile{Name: in.Name, SourceType: v1alpha1.SourceType(in.SourceType), Status: v1alpha1.TransferWaiting}
	switch f.SourceType {
	case v1alpha1.SourcePush:
		if in.SourceEndpoint != nil {
			return f, invalidSpec("source_endpoint is for PULL files; file %q is PUSH", in.Name)
		}
	case v1alpha1.SourcePull:
		ep, err := sourceEndpoint(in.SourceEndpoint)
		if err != nil {
			return f, err
		}
		f.SourceEndpoint = ep
	default:
		return f, invalidSpec("source_type %q is not PUSH or PULL", in.SourceType)
	}
	if in.Size != nil {
		if *in.Size < 0 || *in.Size > maxBytes {
			return f, invalidSpec("size %d of file %q is outside 0..%d, the largest file this server takes", *in.Size, in.Name, maxBytes)
		}
		f.Size = new(*in.Size)
	}
	sum, err := fileChecksum(in.ChecksumInfo)
	if err != nil {
		return f, err
	}
	f.Checksum = sum
	return f, nil
}

// fileChecksum checks a promised checksum; nil, or an empty digest, promises none.
func fileChecksum(in *checksumInfo) (*v1alpha1.FileChecksum, error) {
	if in == nil || in.Checksum == "" {
		return nil, nil
	}
	alg := v1alpha1.ChecksumAlgorithm(in.Algorithm)
	if alg == "" {
		alg = v1alpha1.ChecksumSHA1
	}
	n, ok := digestLengths[alg]
	if !ok {
		return nil, invalidSpec("checksum_info.algorithm %q is not SHA1, MD5, SHA256 or SHA512", in.Algorithm)
	}
	digest := strings.ToLower(in.Checksum)
	if _, err := hex.DecodeString(digest); err != nil || len(digest) != n {
		return nil, invalidSpec("checksum_info.checksum is not a %s digest: %d hexadecimal digits", alg, n)
	}
	return &v1alpha1.FileChecksum{Algorithm: alg, Checksum: digest}, nil
}

// sourceEndpoint checks a PULL source: an absolute http or https URI. A certificate, as govmomi
// sends it after a probe, is pinned by its SHA-256 thumbprint.
func sourceEndpoint(in *transferEndpoint) (*v1alpha1.SourceEndpoint, error) {
	if in == nil || in.URI == "" {
		return nil, invalidSpec("source_endpoint.uri is required for a PULL file")
	}
	if len(in.URI) > maxEndpointURI {
		return nil, invalidSpec("source_endpoint.uri is longer than %d bytes", maxEndpointURI)
	}
	u, err := url.Parse(in.URI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalidSpec("source_endpoint.uri must be an absolute http or https URI")
	}
	ep := &v1alpha1.SourceEndpoint{URI: in.URI, SSLCertificateThumbprint: in.SSLCertificateThumbprint}
	if in.SSLCertificate != "" && ep.SSLCertificateThumbprint == "" {
		if ep.SSLCertificateThumbprint, err = thumbprintOf(in.SSLCertificate); err != nil {
			return nil, err
		}
	}
	if len(ep.SSLCertificateThumbprint) > 128 {
		return nil, invalidSpec("source_endpoint.ssl_certificate_thumbprint is longer than 128 characters")
	}
	if err := pull.CheckEndpoint(pull.Endpoint{URI: ep.URI, Thumbprint: ep.SSLCertificateThumbprint}); err != nil {
		return nil, invalidSpec("source_endpoint: %v", err)
	}
	return ep, nil
}

// thumbprintOf is the SHA-256 thumbprint, "AA:BB:...", of a PEM certificate.
func thumbprintOf(certPEM string) (string, error) {
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return "", invalidSpec("source_endpoint.ssl_certificate is not a PEM certificate")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return "", invalidSpec("source_endpoint.ssl_certificate: %v", err)
	}
	sum := sha256.Sum256(block.Bytes)
	hexSum := strings.ToUpper(hex.EncodeToString(sum[:]))
	pairs := make([]string, 0, len(sum))
	for i := 0; i < len(hexSum); i += 2 {
		pairs = append(pairs, hexSum[i:i+2])
	}
	return strings.Join(pairs, ":"), nil
}

// toFileInfo renders a session's file; upload is its upload endpoint (PUSH files only).
func toFileInfo(f *v1alpha1.SessionFile, upload string) fileInfo {
	info := fileInfo{
		Name:             f.Name,
		SourceType:       string(f.SourceType),
		Size:             f.Size,
		BytesTransferred: f.BytesTransferred,
		Status:           string(f.Status),
		KeepInStorage:    true,
	}
	if f.Checksum != nil {
		info.ChecksumInfo = &checksumInfo{Algorithm: string(f.Checksum.Algorithm), Checksum: f.Checksum.Checksum}
	}
	if ep := f.SourceEndpoint; ep != nil {
		info.SourceEndpoint = &transferEndpoint{URI: ep.URI, SSLCertificateThumbprint: ep.SSLCertificateThumbprint}
	}
	if upload != "" {
		info.UploadEndpoint = &transferEndpoint{URI: upload}
	}
	if f.Status == v1alpha1.TransferError {
		info.ErrorMessage = &vapi.Message{ID: msgFileError, DefaultMessage: f.ErrorMessage, Args: []string{}}
	}
	return info
}

// toItemFile renders a file of an item's content.
func toItemFile(f content.File) itemFileInfo {
	info := itemFileInfo{Name: f.Name, Size: f.Size, Cached: true, Version: strconv.FormatInt(f.Version, 10)}
	if f.Checksum.Value != "" {
		info.ChecksumInfo = &checksumInfo{Algorithm: f.Checksum.Algorithm, Checksum: f.Checksum.Value}
	}
	return info
}
