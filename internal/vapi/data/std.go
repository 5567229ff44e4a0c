package data

import (
	"encoding/json"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

// LocalizableMessage is com.vmware.vapi.std.localizable_message, a message of an error. Its
// params travel unset: this server's messages are formatted already.
var LocalizableMessage = StructOf("com.vmware.vapi.std.localizable_message",
	F("id", StringType),
	F("default_message", StringType),
	F("args", ListOf(StringType)),
	F("params", OptionalOf(MapOf(DynamicType))),
	F("localized", OptionalOf(StringType)),
)

// stdErrors are the types of the standard errors, by type.
var stdErrors = func() map[vapi.ErrorType]*Type {
	types := make(map[vapi.ErrorType]*Type, len(vapi.ErrorTypes))
	for _, t := range vapi.ErrorTypes {
		fields := []Field{
			F("messages", ListOf(LocalizableMessage)),
			F("data", OptionalOf(DynamicType)),
			F("error_type", OptionalOf(EnumType)),
		}
		if t == vapi.Unauthenticated {
			fields = append(fields, F("challenge", OptionalOf(StringType)))
		}
		types[t] = ErrorOf(t.QualifiedName(), fields...)
	}
	return types
}()

// StdError is the type of the standard error t (com.vmware.vapi.std.errors.*), as the bindings
// describe it, so that an SDK raises its own exception class for it.
func StdError(t vapi.ErrorType) *Type {
	if typ, ok := stdErrors[t]; ok {
		return typ
	}
	return stdErrors[vapi.InternalServerError]
}

// EncodeError returns e as the typed value of its standard error, with its messages and its
// error_type.
func EncodeError(e *vapi.Error) ([]byte, error) {
	plain, err := json.Marshal(e.APIBody())
	if err != nil {
		return nil, err
	}
	return Encode(StdError(e.Type), plain)
}
