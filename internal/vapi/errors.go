// Package vapi holds the vSphere Automation API (vAPI) standard errors: their types, the HTTP
// status each maps to, and the two JSON shapes the REST API sends them in.
package vapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrorType is a vAPI standard error discriminator, as the newer /api form names it.
type ErrorType string

// The standard errors this server reports.
const (
	NotFound                 ErrorType = "NOT_FOUND"
	OperationNotFound        ErrorType = "OPERATION_NOT_FOUND"
	NotAllowedInCurrentState ErrorType = "NOT_ALLOWED_IN_CURRENT_STATE"
	InvalidArgument          ErrorType = "INVALID_ARGUMENT"
	InvalidRequest           ErrorType = "INVALID_REQUEST"
	ResourceBusy             ErrorType = "RESOURCE_BUSY"
	Unsupported              ErrorType = "UNSUPPORTED"
	Unauthenticated          ErrorType = "UNAUTHENTICATED"
	Unauthorized             ErrorType = "UNAUTHORIZED"
	ServiceUnavailable       ErrorType = "SERVICE_UNAVAILABLE"
	TimedOut                 ErrorType = "TIMED_OUT"
	InternalServerError      ErrorType = "INTERNAL_SERVER_ERROR"
)

// ErrorTypes are the standard errors above, each once: the results a call can have besides
// success.
var ErrorTypes = []ErrorType{
	NotFound, OperationNotFound, NotAllowedInCurrentState, InvalidArgument, InvalidRequest, ResourceBusy,
	Unsupported, Unauthenticated, Unauthorized, ServiceUnavailable, TimedOut, InternalServerError,
}

// HTTPStatus is the status code vCenter answers errors of type t with.
func (t ErrorType) HTTPStatus() int {
	switch t {
	case NotFound, OperationNotFound:
		return http.StatusNotFound
	case NotAllowedInCurrentState, InvalidArgument, InvalidRequest, ResourceBusy, Unsupported:
		return http.StatusBadRequest
	case Unauthenticated:
		return http.StatusUnauthorized
	case Unauthorized:
		return http.StatusForbidden
	case ServiceUnavailable:
		return http.StatusServiceUnavailable
	case TimedOut:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// QualifiedName is the type's name in the older /rest form, "com.vmware.vapi.std.errors.not_found".
func (t ErrorType) QualifiedName() string {
	return "com.vmware.vapi.std.errors." + strings.ToLower(string(t))
}

// Message is a vAPI LocalizableMessage.
type Message struct {
	ID             string   `json:"id"`
	DefaultMessage string   `json:"default_message"`
	Args           []string `json:"args"`
}

// Error is a vAPI standard error: a type and a stack of messages, the first describing the
// failure from the point of view of the operation the client called.
type Error struct {
	Type     ErrorType
	Messages []Message
	// Status overrides the HTTP status of Type when not zero (405 for a wrong method, say).
	Status int
	// RetryAfter, when not zero, is sent as the Retry-After header (whole seconds).
	RetryAfter time.Duration
}

// HTTPStatus is the status code the error is answered with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Type.HTTPStatus()
}

// Errorf returns an Error of type t with one message; id is the message's stable identifier
// and args the values formatted into it, which clients get as strings.
func Errorf(t ErrorType, id, format string, args ...any) *Error {
	strArgs := make([]string, len(args))
	for i, a := range args {
		strArgs[i] = fmt.Sprint(a)
	}
	return &Error{Type: t, Messages: []Message{{
		ID:             id,
		DefaultMessage: fmt.Sprintf(format, args...),
		Args:           strArgs,
	}}}
}

func (e *Error) Error() string {
	if len(e.Messages) == 0 {
		return string(e.Type)
	}
	return fmt.Sprintf("%s: %s", e.Type, e.Messages[0].DefaultMessage)
}

// APIBody is the error body of the newer /api form.
type APIBody struct {
	ErrorType ErrorType      `json:"error_type"`
	Messages  []Message      `json:"messages"`
	Data      map[string]any `json:"data,omitempty"`
}

// RESTBody is the error body of the older /rest form.
type RESTBody struct {
	Type  string        `json:"type"`
	Value RESTBodyValue `json:"value"`
}

// RESTBodyValue is the "value" of a RESTBody.
type RESTBodyValue struct {
	Messages []Message `json:"messages"`
}

// APIBody returns e as the /api form sends it.
func (e *Error) APIBody() APIBody {
	return APIBody{ErrorType: e.Type, Messages: e.messages()}
}

// RESTBody returns e as the /rest form sends it.
func (e *Error) RESTBody() RESTBody {
	return RESTBody{Type: e.Type.QualifiedName(), Value: RESTBodyValue{Messages: e.messages()}}
}

// messages never returns nil, so that clients always find a list.
func (e *Error) messages() []Message {
	if e.Messages == nil {
		return []Message{}
	}
	return e.Messages
}
