package rest

import (
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// sessionModel is the vSphere UpdateSessionModel, as get returns it.
type sessionModel struct {
	ID                        string            `json:"id"`
	LibraryItemID             string            `json:"library_item_id"`
	LibraryItemContentVersion string            `json:"library_item_content_version,omitempty"`
	State                     string            `json:"state"`
	ClientProgress            int64             `json:"client_progress"`
	ExpirationTime            *time.Time        `json:"expiration_time,omitempty"`
	ErrorMessage              *vapi.Message     `json:"error_message,omitempty"`
	WarningBehavior           []warningBehavior `json:"warning_behavior"`
	PreviewInfo               *previewInfo      `json:"preview_info,omitempty"`
}

// previewInfo is the vSphere PreviewInfo of a session. This server previews no content (no
// certificate or warnings of a signed OVF package): NOT_APPLICABLE, which tells a client
// polling it that no preview will come. UpdateSessionModel has it only while the session is
// ACTIVE (a union on state, which VMware's SDKs check: they refuse a model that has it later).
type previewInfo struct {
	State string `json:"state"`
}

const previewNotApplicable = "NOT_APPLICABLE"

type warningBehavior struct {
	Type    v1alpha1.WarningType `json:"type"`
	Ignored bool                 `json:"ignored"`
}

// sessionInput is the UpdateSessionModel as create and update take it. The fields a client
// cannot set are accepted, so that a model read with get may be sent back, and ignored, as
// vSphere documents them "not used" by create and update.
type sessionInput struct {
	LibraryItemID             string            `json:"library_item_id"`
	LibraryItemContentVersion string            `json:"library_item_content_version"`
	WarningBehavior           []warningBehavior `json:"warning_behavior"`

	ID             any `json:"id"`
	State          any `json:"state"`
	ClientProgress any `json:"client_progress"`
	ExpirationTime any `json:"expiration_time"`
	ErrorMessage   any `json:"error_message"`
	PreviewInfo    any `json:"preview_info"`
}

const msgClientError = "com.vmware.content.library.item.UpdateSession.client_error"

// toModel renders a session as the REST API shows it.
func toModel(us *v1alpha1.UpdateSession) sessionModel {
	m := sessionModel{
		ID:                        us.Status.ID,
		LibraryItemID:             us.Spec.LibraryItemID,
		LibraryItemContentVersion: us.Spec.LibraryItemContentVersion,
		State:                     string(us.Status.State),
		ClientProgress:            us.Status.ClientProgress,
		WarningBehavior:           make([]warningBehavior, 0, len(us.Spec.WarningBehavior)),
	}
	if us.Status.State == v1alpha1.StateActive {
		m.PreviewInfo = &previewInfo{State: previewNotApplicable}
	}
	if t := us.Status.ExpirationTime; t != nil {
		m.ExpirationTime = new(t.UTC())
	}
	if us.Status.State == v1alpha1.StateError {
		m.ErrorMessage = &vapi.Message{ID: msgClientError, DefaultMessage: us.Status.ErrorMessage, Args: []string{}}
	}
	for _, wb := range us.Spec.WarningBehavior {
		m.WarningBehavior = append(m.WarningBehavior, warningBehavior{Type: wb.Type, Ignored: wb.Ignored})
	}
	return m
}

// warningBehaviors validates the warning_behavior of an input and converts it.
func warningBehaviors(in []warningBehavior) ([]v1alpha1.WarningBehavior, error) {
	out := make([]v1alpha1.WarningBehavior, 0, len(in))
	seen := map[v1alpha1.WarningType]bool{}
	for i, wb := range in {
		switch wb.Type {
		case v1alpha1.WarningSelfSigned, v1alpha1.WarningExpired, v1alpha1.WarningNotYetValid, v1alpha1.WarningUntrusted:
		default:
			return nil, invalidArgument("warning_behavior[%d].type %q is not one of SELF_SIGNED_CERTIFICATE, "+
				"EXPIRED_CERTIFICATE, NOT_YET_VALID_CERTIFICATE, UNTRUSTED_CERTIFICATE", i, wb.Type)
		}
		if seen[wb.Type] {
			return nil, invalidArgument("warning_behavior lists %s twice", wb.Type)
		}
		seen[wb.Type] = true
		out = append(out, v1alpha1.WarningBehavior{Type: wb.Type, Ignored: wb.Ignored})
	}
	return out, nil
}

const msgInvalidArgument = "com.vmware.content.library.item.UpdateSession.invalid_argument"

func invalidArgument(format string, args ...any) *vapi.Error {
	return vapi.Errorf(vapi.InvalidArgument, msgInvalidArgument, format+".", args...)
}
