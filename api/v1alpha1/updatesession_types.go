package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SessionState is the lifecycle state of an update session, as vSphere names it.
// +kubebuilder:validation:Enum=ACTIVE;DONE;ERROR;CANCELED
type SessionState string

const (
	// StateActive is the initial state: the client is uploading and keeps the session alive.
	StateActive SessionState = "ACTIVE"
	// StateDone means the client completed the session.
	StateDone SessionState = "DONE"
	// StateError means the client failed the session; status.errorMessage says why.
	StateError SessionState = "ERROR"
	// StateCanceled means the client canceled the session.
	StateCanceled SessionState = "CANCELED"
)

// Terminal reports whether s is a final state, one that never changes again.
func (s SessionState) Terminal() bool {
	return s == StateDone || s == StateError || s == StateCanceled
}

// WarningType names a class of certificate warning a client may choose to ignore.
// +kubebuilder:validation:Enum=SELF_SIGNED_CERTIFICATE;EXPIRED_CERTIFICATE;NOT_YET_VALID_CERTIFICATE;UNTRUSTED_CERTIFICATE
type WarningType string

// The warning types of the vSphere Content Library API.
const (
	WarningSelfSigned  WarningType = "SELF_SIGNED_CERTIFICATE"
	WarningExpired     WarningType = "EXPIRED_CERTIFICATE"
	WarningNotYetValid WarningType = "NOT_YET_VALID_CERTIFICATE"
	WarningUntrusted   WarningType = "UNTRUSTED_CERTIFICATE"
)

// WarningBehavior says whether warnings of one type are ignored during the upload.
type WarningBehavior struct {
	// type is the class of warning this entry applies to.
	// +required
	Type WarningType `json:"type"`

	// ignored, when true, lets the upload proceed despite warnings of this type.
	// +optional
	Ignored bool `json:"ignored,omitempty"`
}

// UpdateSessionSpec is what the creator of a session asks for.
// +kubebuilder:validation:XValidation:rule="has(self.libraryItemContentVersion) == has(oldSelf.libraryItemContentVersion)",message="libraryItemContentVersion is immutable"
type UpdateSessionSpec struct {
	// libraryItemID identifies the content library item the session uploads to: printable
	// text, without control or format characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^\p{C}\p{Zl}\p{Zp}]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="libraryItemID is immutable"
	LibraryItemID string `json:"libraryItemID"`

	// libraryItemContentVersion is the item's content version when the session was created:
	// printable text, without control or format characters.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^\p{C}\p{Zl}\p{Zp}]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="libraryItemContentVersion is immutable"
	LibraryItemContentVersion string `json:"libraryItemContentVersion,omitempty"`

	// expirationTimeoutSeconds is how long the session may stay idle before it expires.
	// When absent, the operator's --session-timeout applies.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	ExpirationTimeoutSeconds *int32 `json:"expirationTimeoutSeconds,omitempty"`

	// warningBehavior lists, per warning type, whether such warnings are ignored.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=4
	WarningBehavior []WarningBehavior `json:"warningBehavior,omitempty"`
}

// UpdateSessionStatus is written by the operator only.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.id) || has(self.id)",message="id cannot be removed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.state) || has(self.state)",message="state cannot be removed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.lastActivity) || has(self.lastActivity)",message="lastActivity cannot be removed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.expirationTime) || has(self.expirationTime)",message="expirationTime cannot be removed"
// +kubebuilder:validation:XValidation:rule="!has(self.expirationTime) || (has(self.lastActivity) && self.expirationTime >= self.lastActivity && self.expirationTime <= self.lastActivity + duration('86400s'))",message="expirationTime must lie within lastActivity and lastActivity + 86400s, the longest timeout"
type UpdateSessionStatus struct {
	Lifecycle `json:",inline"`

	// files are the files added to the session, with each one's transfer state and progress.
	// Bytes never go here: they live in the content store.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Files []SessionFile `json:"files,omitempty"`

	// removedFiles names the item's files that remove asked to drop: completing the session
	// removes them from the item's content.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=255
	RemovedFiles []string `json:"removedFiles,omitempty"`

	// completionRequested is when complete was accepted: from then on the session's files do
	// not change. The session turns DONE once they are committed to the item: at once, or, while
	// PULL transfers still run, when they all succeed (ERROR when one fails).
	// +optional
	CompletionRequested *metav1.MicroTime `json:"completionRequested,omitempty"`

	// contentVersion is the item's content version the completed session wrote.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ContentVersion int64 `json:"contentVersion,omitempty"`
}

// SourceType says how a file's bytes reach the session, as vSphere names it.
// +kubebuilder:validation:Enum=PUSH;PULL
type SourceType string

const (
	// SourcePush means the client sends the bytes to the file's upload endpoint.
	SourcePush SourceType = "PUSH"
	// SourcePull means the operator fetches the bytes from the file's source endpoint.
	SourcePull SourceType = "PULL"
)

// TransferStatus is the state of one file's transfer, as vSphere names it.
// +kubebuilder:validation:Enum=WAITING_FOR_TRANSFER;TRANSFERRING;READY;ERROR
type TransferStatus string

const (
	// TransferWaiting means no byte arrived yet, or a cut transfer is to be started over.
	TransferWaiting TransferStatus = "WAITING_FOR_TRANSFER"
	// TransferTransferring means a transfer runs; transferHeartbeat says it is still alive.
	TransferTransferring TransferStatus = "TRANSFERRING"
	// TransferReady means every byte arrived and matched what was promised.
	TransferReady TransferStatus = "READY"
	// TransferError means the last transfer failed; errorMessage says why.
	TransferError TransferStatus = "ERROR"
)

// ChecksumAlgorithm names the algorithm of a file's checksum, as vSphere names it.
// +kubebuilder:validation:Enum=SHA1;MD5;SHA256;SHA512
type ChecksumAlgorithm string

// The checksum algorithms of the vSphere Content Library API.
const (
	ChecksumSHA1   ChecksumAlgorithm = "SHA1"
	ChecksumMD5    ChecksumAlgorithm = "MD5"
	ChecksumSHA256 ChecksumAlgorithm = "SHA256"
	ChecksumSHA512 ChecksumAlgorithm = "SHA512"
)

// FileChecksum is a file's checksum: promised by the client when it adds the file, then the
// one computed from the bytes received.
type FileChecksum struct {
	// algorithm is the checksum's algorithm.
	// +required
	Algorithm ChecksumAlgorithm `json:"algorithm"`

	// checksum is the digest in lowercase hex.
	// +required
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[0-9a-f]*$`
	Checksum string `json:"checksum"`
}

// SourceEndpoint is where the operator fetches a PULL file from.
type SourceEndpoint struct {
	// uri is the http or https URI of the bytes.
	// +required
	// +kubebuilder:validation:MaxLength=4096
	URI string `json:"uri"`

	// sslCertificateThumbprint pins the server's leaf certificate: SHA-1 or SHA-256 in
	// colon-separated hex.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	SSLCertificateThumbprint string `json:"sslCertificateThumbprint,omitempty"`
}

// SessionFile is one file of an update session and the state of its transfer.
type SessionFile struct {
	// name is the file's name in the library item: no '/', '\', "..", control characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Name string `json:"name"`

	// sourceType says whether the client pushes the bytes or the operator pulls them.
	// +required
	SourceType SourceType `json:"sourceType"`

	// status is the state of the file's transfer.
	// +required
	Status TransferStatus `json:"status"`

	// bytesTransferred is how many bytes the current or last transfer received.
	// +optional
	// +kubebuilder:validation:Minimum=0
	BytesTransferred int64 `json:"bytesTransferred,omitempty"`

	// size is the size the client promised, then, once READY, the size received.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Size *int64 `json:"size,omitempty"`

	// checksum is the checksum the client promised, then, once READY, the one computed.
	// +optional
	Checksum *FileChecksum `json:"checksum,omitempty"`

	// errorMessage says why the file is in ERROR.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ErrorMessage string `json:"errorMessage,omitempty"`

	// sourceEndpoint is where a PULL file is fetched from.
	// +optional
	SourceEndpoint *SourceEndpoint `json:"sourceEndpoint,omitempty"`

	// transferID is drawn at random when the file is added and for each transfer attempt: it
	// binds the upload capability to this file, and a running transfer's claim to its attempt.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TransferID string `json:"transferID,omitempty"`

	// transferHeartbeat is the time of a running transfer's latest progress write: a
	// TRANSFERRING file whose heartbeat is old belongs to a transfer that died, and a
	// TRANSFERRING PULL file without one was handed over by a replica that stopped.
	// +optional
	TransferHeartbeat *metav1.MicroTime `json:"transferHeartbeat,omitempty"`

	// fetchRestarts counts how often the operator fetched a PULL file anew, from its first
	// byte, because the replica fetching it stopped (and handed it over) or died; a file
	// fetched anew too often goes ERROR.
	// +optional
	// +kubebuilder:validation:Minimum=0
	FetchRestarts int32 `json:"fetchRestarts,omitempty"`
}

// AnnotationClientToken holds the client_token a session was created with through the REST
// API; a create with the same token in the same namespace returns this session.
const AnnotationClientToken = "library.contentlib.dev/client-token"

// MaxExpirationTimeoutSeconds is the longest idle timeout of a session, whether its spec or the
// operator's --session-timeout sets it. The status schema holds expirationTime within this of
// lastActivity: the API server cannot know the operator's flag.
const MaxExpirationTimeoutSeconds = 86400

// ConditionActive is the condition type that is True while the session is ACTIVE and False
// once it reached a terminal state; its lastTransitionTime is when it got there, which
// starts the --terminal-retention clock.
const ConditionActive = "Active"

// Reasons of the Active condition.
const (
	// ReasonActive means the session is ACTIVE.
	ReasonActive = "SessionActive"
	// ReasonCompleted means the client completed the session (DONE).
	ReasonCompleted = "Completed"
	// ReasonCanceled means the client canceled the session (CANCELED).
	ReasonCanceled = "Canceled"
	// ReasonFailed means the client or the operator failed the session (ERROR).
	ReasonFailed = "Failed"
)

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=us,categories=contentlib
// +kubebuilder:selectablefield:JSONPath=`.status.id`
// +kubebuilder:selectablefield:JSONPath=`.status.state`
// +kubebuilder:selectablefield:JSONPath=`.spec.libraryItemID`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.id`
// +kubebuilder:printcolumn:name="Item",type=string,JSONPath=`.spec.libraryItemID`,priority=1
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Progress",type=integer,JSONPath=`.status.clientProgress`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expirationTime`
// +kubebuilder:printcolumn:name="Last-Activity",type=string,JSONPath=`.status.lastActivity`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.spec == oldSelf.spec || !has(oldSelf.status) || !has(oldSelf.status.state) || oldSelf.status.state == 'ACTIVE'",message="spec cannot change once the session has ended"
// The rule below bounds expirationTime by the spec's timeout where the status rule bounds it
// by MaxExpirationTimeoutSeconds. It holds a status write that moves lastActivity or
// expirationTime, not an update that leaves both as they are: the spec's timeout may change,
// and the operator's next status write follows it (see session.Policy.DesiredStatus). The
// duration is built with format, not by adding strings: the API server estimates the cost of
// string(int) + 's' as unbounded and refuses the CRD.
// +kubebuilder:validation:XValidation:rule="!has(self.spec.expirationTimeoutSeconds) || !has(self.status) || !has(self.status.expirationTime) || !has(self.status.lastActivity) || (has(oldSelf.status) && has(oldSelf.status.expirationTime) && has(oldSelf.status.lastActivity) && self.status.expirationTime == oldSelf.status.expirationTime && self.status.lastActivity == oldSelf.status.lastActivity) || self.status.expirationTime <= self.status.lastActivity + duration('%ds'.format([self.spec.expirationTimeoutSeconds]))",message="expirationTime must not be later than lastActivity + spec.expirationTimeoutSeconds"

// UpdateSession is an upload session to a content library item, kept alive by its client
// and deleted by the operator once idle past its expiration time.
type UpdateSession struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the session's creator asked for.
	// +required
	Spec UpdateSessionSpec `json:"spec"`

	// status is the session's state and progress, written by the operator.
	// +optional
	Status UpdateSessionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// UpdateSessionList contains a list of UpdateSession.
type UpdateSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []UpdateSession `json:"items"`
}
