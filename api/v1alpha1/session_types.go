package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Lifecycle is the part of a session's status that the lifecycle rules keep, the same in both
// directions (UpdateSession, DownloadSession): identity, state, progress, activity and the
// deadline it promises. Both statuses embed it inline, so its fields sit at the top of status.
type Lifecycle struct {
	// id is the session's identifier on the REST API; it equals metadata.uid.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="id is immutable"
	ID string `json:"id,omitempty"`

	// state is ACTIVE until the session ends: completed (DONE, update sessions only), canceled
	// or failed. A terminal state (DONE, ERROR, CANCELED) never changes again.
	// +optional
	// +kubebuilder:validation:XValidation:rule="oldSelf == 'ACTIVE' || self == oldSelf",message="a terminal state never changes"
	State SessionState `json:"state,omitempty"`

	// clientProgress is the transfer progress the client reported, 0 to 100. It never decreases.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=0
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="clientProgress never decreases"
	ClientProgress int64 `json:"clientProgress"`

	// lastActivity is the creation time, then the time of the latest client action. It never decreases.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="lastActivity never decreases"
	LastActivity *metav1.MicroTime `json:"lastActivity,omitempty"`

	// expirationTime is lastActivity plus the session's timeout: the session is not deleted before it.
	// +optional
	ExpirationTime *metav1.MicroTime `json:"expirationTime,omitempty"`

	// errorMessage says why the session is in ERROR: the client's message as printable text
	// (control characters replaced) of at most 1024 bytes.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[^\p{C}\p{Zl}\p{Zp}]*$`
	ErrorMessage string `json:"errorMessage,omitempty"`

	// conditions describe the session's state for tools that read conditions.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Session is a session of either direction, as the lifecycle rules, the store and the
// reconciler see it.
// +kubebuilder:object:generate=false
type Session interface {
	metav1.Object
	runtime.Object
	// Lifecycle is the session's lifecycle status, to read and change in place.
	Lifecycle() *Lifecycle
	// LibraryItem is the library item the session works on.
	LibraryItem() string
	// TimeoutSeconds is spec.expirationTimeoutSeconds: nil when the operator's default applies.
	TimeoutSeconds() *int32
	// Noun names the kind in vSphere's words and message ids ("UpdateSession").
	Noun() string
	// SpecPart and StatusPart are the spec and the whole status, for comparing two versions.
	SpecPart() any
	StatusPart() any
}

// Lifecycle implements Session.
func (us *UpdateSession) Lifecycle() *Lifecycle { return &us.Status.Lifecycle }

// LibraryItem implements Session.
func (us *UpdateSession) LibraryItem() string { return us.Spec.LibraryItemID }

// TimeoutSeconds implements Session.
func (us *UpdateSession) TimeoutSeconds() *int32 { return us.Spec.ExpirationTimeoutSeconds }

// Noun implements Session.
func (*UpdateSession) Noun() string { return "UpdateSession" }

// SpecPart implements Session.
func (us *UpdateSession) SpecPart() any { return &us.Spec }

// StatusPart implements Session.
func (us *UpdateSession) StatusPart() any { return &us.Status }
