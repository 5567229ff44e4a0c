package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DownloadSessionSpec is what the creator of a download session asks for.
type DownloadSessionSpec struct {
	// libraryItemID identifies the content library item the session reads: printable text,
	// without control or format characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[^\p{C}\p{Zl}\p{Zp}]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="libraryItemID is immutable"
	LibraryItemID string `json:"libraryItemID"`

	// expirationTimeoutSeconds is how long the session may stay idle before it expires.
	// When absent, the operator's --session-timeout applies.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	ExpirationTimeoutSeconds *int32 `json:"expirationTimeoutSeconds,omitempty"`
}

// DownloadSessionStatus is written by the operator only.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.id) || has(self.id)",message="id cannot be removed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.state) || has(self.state)",message="state cannot be removed"
// +kubebuilder:validation:XValidation:rule="!has(self.state) || self.state != 'DONE'",message="a download session is never DONE: it ends CANCELED or ERROR, or is deleted"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.lastActivity) || has(self.lastActivity)",message="lastActivity cannot be removed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.expirationTime) || has(self.expirationTime)",message="expirationTime cannot be removed"
// +kubebuilder:validation:XValidation:rule="!has(self.expirationTime) || (has(self.lastActivity) && self.expirationTime >= self.lastActivity && self.expirationTime <= self.lastActivity + duration('86400s'))",message="expirationTime must lie within lastActivity and lastActivity + 86400s, the longest timeout"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.contentVersion) || (has(self.contentVersion) && self.contentVersion == oldSelf.contentVersion)",message="contentVersion is immutable once set"
type DownloadSessionStatus struct {
	Lifecycle `json:",inline"`

	// contentVersion is the item's content version the session reads, fixed when the session
	// is first seen: a later update of the item does not change what the session serves, and
	// the store keeps this version while a session reads it. Absent while the item has no
	// content.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ContentVersion int64 `json:"contentVersion,omitempty"`

	// files are the files the client asked to prepare, with each one's state and download
	// progress. A file of the item not listed here is UNPREPARED.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Files []DownloadFile `json:"files,omitempty"`
}

// PrepareStatus is the preparation state of a download session's file, as vSphere names it.
// +kubebuilder:validation:Enum=UNPREPARED;PREPARE_REQUESTED;PREPARING;PREPARED;ERROR
type PrepareStatus string

// The preparation states of the vSphere Content Library API.
const (
	PrepareUnprepared PrepareStatus = "UNPREPARED"
	PrepareRequested  PrepareStatus = "PREPARE_REQUESTED"
	PreparePreparing  PrepareStatus = "PREPARING"
	PreparePrepared   PrepareStatus = "PREPARED"
	PrepareError      PrepareStatus = "ERROR"
)

// DownloadFile is one file of a download session that the client asked to prepare.
type DownloadFile struct {
	// name is the file's name in the library item.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	Name string `json:"name"`

	// status is the file's preparation state.
	// +required
	Status PrepareStatus `json:"status"`

	// size is the file's size in the content version the session reads.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Size int64 `json:"size,omitempty"`

	// checksum is the file's checksum in the content version the session reads.
	// +optional
	Checksum *FileChecksum `json:"checksum,omitempty"`

	// bytesTransferred is how far the furthest download of the file has read.
	// +optional
	// +kubebuilder:validation:Minimum=0
	BytesTransferred int64 `json:"bytesTransferred,omitempty"`

	// errorMessage says why the file is in ERROR.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	ErrorMessage string `json:"errorMessage,omitempty"`

	// transferID is drawn at random when the file is prepared: it binds the download
	// capability to this file of this session.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TransferID string `json:"transferID,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=dls,categories=contentlib
// +kubebuilder:selectablefield:JSONPath=`.status.id`
// +kubebuilder:selectablefield:JSONPath=`.status.state`
// +kubebuilder:selectablefield:JSONPath=`.spec.libraryItemID`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.id`
// +kubebuilder:printcolumn:name="Item",type=string,JSONPath=`.spec.libraryItemID`,priority=1
// +kubebuilder:printcolumn:name="Version",type=integer,JSONPath=`.status.contentVersion`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Progress",type=integer,JSONPath=`.status.clientProgress`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expirationTime`
// +kubebuilder:printcolumn:name="Last-Activity",type=string,JSONPath=`.status.lastActivity`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.spec == oldSelf.spec || !has(oldSelf.status) || !has(oldSelf.status.state) || oldSelf.status.state == 'ACTIVE'",message="spec cannot change once the session has ended"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.expirationTimeoutSeconds) || !has(self.status) || !has(self.status.expirationTime) || !has(self.status.lastActivity) || (has(oldSelf.status) && has(oldSelf.status.expirationTime) && has(oldSelf.status.lastActivity) && self.status.expirationTime == oldSelf.status.expirationTime && self.status.lastActivity == oldSelf.status.lastActivity) || self.status.expirationTime <= self.status.lastActivity + duration('%ds'.format([self.spec.expirationTimeoutSeconds]))",message="expirationTime must not be later than lastActivity + spec.expirationTimeoutSeconds"

// DownloadSession is a session that reads one content version of a library item, kept alive
// by its client and deleted by the operator once idle past its expiration time: UpdateSession's
// lifecycle in the other direction.
type DownloadSession struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what the session's creator asked for.
	// +required
	Spec DownloadSessionSpec `json:"spec"`

	// status is the session's state and progress, written by the operator.
	// +optional
	Status DownloadSessionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DownloadSessionList contains a list of DownloadSession.
type DownloadSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DownloadSession `json:"items"`
}

// Lifecycle implements Session.
func (ds *DownloadSession) Lifecycle() *Lifecycle { return &ds.Status.Lifecycle }

// LibraryItem implements Session.
func (ds *DownloadSession) LibraryItem() string { return ds.Spec.LibraryItemID }

// TimeoutSeconds implements Session.
func (ds *DownloadSession) TimeoutSeconds() *int32 { return ds.Spec.ExpirationTimeoutSeconds }

// Noun implements Session.
func (*DownloadSession) Noun() string { return "DownloadSession" }

// SpecPart implements Session.
func (ds *DownloadSession) SpecPart() any { return &ds.Spec }

// StatusPart implements Session.
func (ds *DownloadSession) StatusPart() any { return &ds.Status }
