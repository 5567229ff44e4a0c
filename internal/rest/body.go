package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

const msgInvalidBody = "com.vmware.vapi.rest.invalid_request_body"

// decodeOptional decodes an optional JSON body into v, strictly: unknown fields, wrong types
// and trailing data are refused. An empty body, or null, leaves v as it is.
func decodeOptional(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalidBody("%s", describeJSONError(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidBody("unexpected data after the JSON value")
	}
	return nil
}

// describeJSONError turns a decoding error into a message for the client.
func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field != "" {
			return "field " + typeErr.Field + " must be of type " + typeErr.Type.String()
		}
		return "the body must be a JSON " + typeErr.Type.Kind().String()
	}
	return err.Error()
}

func invalidBody(format string, args ...any) *vapi.Error {
	return vapi.Errorf(vapi.InvalidArgument, msgInvalidBody, "Invalid request body: "+format+".", args...)
}
