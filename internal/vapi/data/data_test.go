package data

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

// The types of the cases: the bindings' UpdateSessionModel and WarningBehavior
// (com/vmware/content/library/item_client.py, item/updatesession_client.py).
var (
	warningBehavior = StructOf("com.vmware.content.library.item.updatesession.warning_behavior",
		F("type", EnumType), F("ignored", BooleanType))
	sessionModel = StructOf("com.vmware.content.library.item.update_session_model",
		F("id", OptionalOf(IDType)),
		F("library_item_id", OptionalOf(IDType)),
		F("library_item_content_version", OptionalOf(StringType)),
		F("error_message", OptionalOf(LocalizableMessage)),
		F("client_progress", OptionalOf(IntegerType)),
		F("state", OptionalOf(EnumType)),
		F("expiration_time", OptionalOf(DateTimeType)),
		F("preview_info", OptionalOf(DynamicType)),
		F("warning_behavior", OptionalOf(ListOf(warningBehavior))),
	)
	keepAliveInput = StructOf("operation-input",
		F("update_session_id", IDType), F("client_progress", OptionalOf(IntegerType)))
)

// The typed values of the cases are what VMware's Python runtime 2.44.0 serializes
// (TypeConverter.convert_to_vapi, then VAPIJsonEncoder).
const (
	createSpecTyped = `{"STRUCTURE":{"com.vmware.content.library.item.update_session_model":{"id":{"OPTIONAL":null},` +
		`"library_item_id":{"OPTIONAL":"item-1"},"library_item_content_version":{"OPTIONAL":null},` +
		`"error_message":{"OPTIONAL":null},"client_progress":{"OPTIONAL":null},"state":{"OPTIONAL":null},` +
		`"expiration_time":{"OPTIONAL":null},"preview_info":{"OPTIONAL":null},"warning_behavior":{"OPTIONAL":` +
		`[{"STRUCTURE":{"com.vmware.content.library.item.updatesession.warning_behavior":` +
		`{"type":"SELF_SIGNED_CERTIFICATE","ignored":true}}}]}}}}`
	modelTyped = `{"STRUCTURE":{"com.vmware.content.library.item.update_session_model":{"id":{"OPTIONAL":"x"},` +
		`"library_item_id":{"OPTIONAL":null},"library_item_content_version":{"OPTIONAL":null},` +
		`"error_message":{"OPTIONAL":null},"client_progress":{"OPTIONAL":5},"state":{"OPTIONAL":"ACTIVE"},` +
		`"expiration_time":{"OPTIONAL":"2026-12-03T18:57:57.123Z"},"preview_info":{"OPTIONAL":null},` +
		`"warning_behavior":{"OPTIONAL":null}}}}`
	notFoundTyped = `{"ERROR":{"com.vmware.vapi.std.errors.not_found":{"messages":[{"STRUCTURE":` +
		`{"com.vmware.vapi.std.localizable_message":{"id":"a.b","default_message":"gone","args":["x"],` +
		`"params":{"OPTIONAL":null},"localized":{"OPTIONAL":null}}}}],"data":{"OPTIONAL":null},` +
		`"error_type":{"OPTIONAL":"NOT_FOUND"}}}}`
)

func TestCodec(t *testing.T) {
	tests := []struct {
		name         string
		typ          *Type
		typed        string
		plain        string
		oneWay       bool // typed decodes to plain, but plain encodes to another typed value
		decodeOnly   bool // plain is what typed decodes to; encoding is not the inverse
		wantMismatch string
	}{
		{name: "a string", typ: StringType, typed: `"a"`, plain: `"a"`},
		{name: "an integer", typ: IntegerType, typed: `-42`, plain: `-42`},
		{name: "a boolean", typ: BooleanType, typed: `true`, plain: `true`},
		{name: "void is null", typ: VoidType, typed: `null`, plain: `null`},
		{name: "a double as the runtime spells it", typ: DoubleType, typed: `1.5E0`, plain: `1.5E0`},
		{name: "a double of integral value keeps its point", typ: DoubleType, typed: `1.0E2`, plain: `100`, oneWay: true},
		{name: "a small double", typ: DoubleType, typed: `1.23E-4`, plain: `0.000123`, oneWay: true},
		{name: "a secret", typ: SecretType, typed: `{"SECRET":"s3cret"}`, plain: `"s3cret"`},
		{name: "a binary", typ: BinaryType, typed: `{"BINARY":"aGk="}`, plain: `"aGk="`},
		{name: "an unset optional", typ: OptionalOf(IntegerType), typed: `{"OPTIONAL":null}`, plain: `null`},
		{name: "a set optional", typ: OptionalOf(IntegerType), typed: `{"OPTIONAL":7}`, plain: `7`},
		{name: "an optional secret", typ: OptionalOf(SecretType), typed: `{"OPTIONAL":{"SECRET":"s"}}`, plain: `"s"`},
		{name: "a list", typ: ListOf(StringType), typed: `["a","b"]`, plain: `["a","b"]`},
		{name: "an empty list", typ: ListOf(StringType), typed: `[]`, plain: `[]`},
		{name: "a list of optionals", typ: ListOf(OptionalOf(IntegerType)), typed: `[{"OPTIONAL":1},{"OPTIONAL":null}]`,
			plain: `[1,null]`},
		{name: "a map", typ: MapOf(IntegerType), typed: `[{"STRUCTURE":{"map-entry":{"key":"a","value":1}}}]`,
			plain: `{"a":1}`},
		{name: "a date-time to the millisecond in UTC", typ: DateTimeType, typed: `"2026-12-03T18:57:57.123Z"`,
			plain: `"2026-12-03T19:57:57.123456+01:00"`, oneWay: true},
		{name: "a structure with every field", typ: keepAliveInput,
			typed: `{"STRUCTURE":{"operation-input":{"update_session_id":"s-1","client_progress":{"OPTIONAL":40}}}}`,
			plain: `{"update_session_id":"s-1","client_progress":40}`},
		{name: "a structure leaves out its unset optional fields", typ: keepAliveInput,
			typed: `{"STRUCTURE":{"operation-input":{"update_session_id":"s-1","client_progress":{"OPTIONAL":null}}}}`,
			plain: `{"update_session_id":"s-1"}`},
		{name: "nested structures: the create spec of the Python SDK", typ: sessionModel, typed: createSpecTyped,
			plain: `{"library_item_id":"item-1","warning_behavior":[{"type":"SELF_SIGNED_CERTIFICATE","ignored":true}]}`},
		{name: "nested structures: a model as get returns it", typ: sessionModel, typed: modelTyped,
			plain: `{"id":"x","client_progress":5,"state":"ACTIVE","expiration_time":"2026-12-03T18:57:57.123Z"}`},
		{name: "an unknown field that is an unset optional is dropped", typ: keepAliveInput, decodeOnly: true,
			typed: `{"STRUCTURE":{"operation-input":{"update_session_id":"s","newer":{"OPTIONAL":null}}}}`,
			plain: `{"update_session_id":"s"}`},
		{name: "whitespace and escapes are read as JSON reads them", typ: keepAliveInput, decodeOnly: true,
			typed: "{ \"STRUCTURE\" : {\n \"operation-input\" : { \"update_session_id\" : \"a}]\\\"b\" ,\n" +
				"\"client_progress\" : { \"OPTIONAL\" : 4 } } } }",
			plain: `{"update_session_id":"a}]\"b","client_progress":4}`},
		{name: "a string that ends in an escaped backslash", typ: keepAliveInput, decodeOnly: true,
			typed: `{"STRUCTURE":{"operation-input":{"update_session_id":"s\\","client_progress":{"OPTIONAL":1}}}}`,
			plain: `{"update_session_id":"s\\","client_progress":1}`},
		{name: "an escaped key", typ: keepAliveInput, decodeOnly: true,
			typed: `{"STRUCTURE":{"operation-input":{"update\u005fsession_id":"s"}}}`, plain: `{"update_session_id":"s"}`},
		{name: "a dynamic structure", typ: DynamicType, decodeOnly: true,
			typed: `{"STRUCTURE":{"x":{"a":{"OPTIONAL":1},"b":[{"SECRET":"s"}],"c":1.5E0}}}`, plain: `{"a":1,"b":["s"],"c":1.5E0}`},
		{name: "an error", typ: StdError(vapi.NotFound), typed: notFoundTyped,
			plain: `{"messages":[{"id":"a.b","default_message":"gone","args":["x"]}],"error_type":"NOT_FOUND"}`},

		{name: "a string is not an integer", typ: IntegerType, typed: `"1"`, plain: `"1"`, wantMismatch: "an integer"},
		{name: "a double is not an integer", typ: IntegerType, typed: `1.5`, plain: `1.5`, wantMismatch: "an integer"},
		{name: "a bare string is not a secret", typ: SecretType, typed: `"s"`, wantMismatch: `{"SECRET": <string>}`},
		{name: "a bare value is not an optional", typ: OptionalOf(IntegerType), typed: `7`,
			wantMismatch: `{"OPTIONAL": <value or null>}`},
		{name: "a structure of another name", typ: keepAliveInput,
			typed:        `{"STRUCTURE":{"other":{"update_session_id":"s"}}}`,
			wantMismatch: `{"STRUCTURE": {"operation-input": {...}}}`},
		{name: "a structure with a second marker", typ: keepAliveInput,
			typed:        `{"STRUCTURE":{"operation-input":{"update_session_id":"s"}},"OPTIONAL":null}`,
			wantMismatch: `{"STRUCTURE": {"operation-input": {...}}}`},
		{name: "a required field left out", typ: keepAliveInput, typed: `{"STRUCTURE":{"operation-input":{}}}`,
			plain: `{}`, wantMismatch: "update_session_id must be set: the field is required"},
		{name: "an unknown field with a value", typ: keepAliveInput,
			typed: `{"STRUCTURE":{"operation-input":{"update_session_id":"s","newer":1}}}`,
			plain: `{"update_session_id":"s","newer":1}`, wantMismatch: "newer must be a field of operation-input"},
		{name: "a wrong element deep in a structure names its path", typ: sessionModel,
			typed: `{"STRUCTURE":{"com.vmware.content.library.item.update_session_model":{"warning_behavior":{"OPTIONAL":` +
				`[{"STRUCTURE":{"com.vmware.content.library.item.updatesession.warning_behavior":` +
				`{"type":"SELF_SIGNED_CERTIFICATE","ignored":"yes"}}}]}}}}`,
			plain:        `{"warning_behavior":[{"type":"SELF_SIGNED_CERTIFICATE","ignored":"yes"}]}`,
			wantMismatch: "warning_behavior[0].ignored must be a boolean"},
		{name: "a date-time that is not RFC 3339", typ: DateTimeType, typed: `"yesterday"`, plain: `"yesterday"`,
			wantMismatch: "an RFC 3339 date-time string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			decoded, err := Decode(tc.typ, []byte(tc.typed))
			if tc.wantMismatch != "" {
				assertMismatch(t, "Decode", err, tc.wantMismatch)
				if tc.plain != "" {
					_, err := Encode(tc.typ, []byte(tc.plain))
					assertMismatch(t, "Encode", err, tc.wantMismatch)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !tc.oneWay {
				assertJSON(t, "Decode", string(decoded), tc.plain)
			}
			if tc.decodeOnly {
				return
			}
			encoded, err := Encode(tc.typ, []byte(tc.plain))
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if string(encoded) != tc.typed {
				t.Errorf("Encode:\n got %s\nwant %s", encoded, tc.typed)
			}
		})
	}
}

func assertMismatch(t *testing.T, what string, err error, want string) {
	t.Helper()
	var m *MismatchError
	if !errors.As(err, &m) {
		t.Fatalf("%s: %v, want a mismatch", what, err)
	}
	if got := m.Error(); got != want && m.Want != want {
		t.Errorf("%s: %q, want %q", what, got, want)
	}
}

// assertJSON compares JSON texts byte for byte: Decode keeps the order of the type's fields.
func assertJSON(t *testing.T, what, got, want string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func TestEncodeError(t *testing.T) {
	got, err := EncodeError(vapi.Errorf(vapi.NotFound, "a.b", "gone%s", "x"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ERROR":{"com.vmware.vapi.std.errors.not_found":{"messages":[{"STRUCTURE":` +
		`{"com.vmware.vapi.std.localizable_message":{"id":"a.b","default_message":"gonex","args":["x"],` +
		`"params":{"OPTIONAL":null},"localized":{"OPTIONAL":null}}}}],"data":{"OPTIONAL":null},` +
		`"error_type":{"OPTIONAL":"NOT_FOUND"}}}}`
	assertJSON(t, "EncodeError", string(got), want)

	got, err = EncodeError(&vapi.Error{Type: vapi.Unauthenticated})
	if err != nil {
		t.Fatal(err)
	}
	want = `{"ERROR":{"com.vmware.vapi.std.errors.unauthenticated":{"messages":[],"data":{"OPTIONAL":null},` +
		`"error_type":{"OPTIONAL":"UNAUTHENTICATED"},"challenge":{"OPTIONAL":null}}}}`
	assertJSON(t, "EncodeError", string(got), want)
}

func TestCanonicalDouble(t *testing.T) {
	for f, want := range map[float64]string{0: "0.0E0", 1.5: "1.5E0", 100: "1.0E2", -0.000123: "-1.23E-4", 1e300: "1.0E300"} {
		if got := CanonicalDouble(f); got != want {
			t.Errorf("CanonicalDouble(%v) = %s, want %s", f, got, want)
		}
	}
}
