// Package data is the vAPI runtime's typed data encoding, as VMware's JSON-RPC wire (POST /api,
// what the Python and Java SDKs send) spells it: structures as {"STRUCTURE":{"<name>":{...}}},
// errors as {"ERROR":{"<name>":{...}}}, optionals as {"OPTIONAL":<value or null>}, secrets as
// {"SECRET":"..."}, lists as arrays, integers, doubles, booleans and strings as JSON has them.
//
// The REST forms of this server carry the same values as plain JSON. Decode turns a typed value
// into plain JSON and Encode the other way, each guided by the bindings' type description of the
// value (Type), so that the JSON-RPC wire reuses the handlers of the REST forms unchanged. The
// specification is VMware's runtime: vmware/vapi/data/serializers/jsonrpc.py.
package data

// Kind is the kind of a vAPI data type.
type Kind uint8

// The kinds of vAPI data types. DateTime, ID and Enum travel as strings: the runtime's data
// values have no kinds of their own for them, only the bindings tell them apart.
const (
	Void Kind = iota
	Boolean
	Integer
	Double
	String
	DateTime
	ID
	Enum
	Secret
	Binary
	Optional
	List
	Map
	Structure
	Error
	// Dynamic is a value of any type, as a dynamic structure (an error's data) holds.
	Dynamic
)

// Type is a type description, as the bindings give it (com/vmware/..._client.py).
type Type struct {
	Kind Kind
	// Name is the canonical name of a Structure or Error ("com.vmware.vapi.std.errors.not_found").
	Name string
	// Fields are the fields of a Structure or Error, in the order they are encoded.
	Fields []Field
	// Elem is the type of an Optional's value, of a List's elements, or of a Map's values (whose
	// keys are strings).
	Elem *Type
}

// Field is a field of a structure.
type Field struct {
	Name string
	Type *Type
}

// The types without parameters.
var (
	VoidType     = &Type{Kind: Void}
	BooleanType  = &Type{Kind: Boolean}
	IntegerType  = &Type{Kind: Integer}
	DoubleType   = &Type{Kind: Double}
	StringType   = &Type{Kind: String}
	DateTimeType = &Type{Kind: DateTime}
	IDType       = &Type{Kind: ID}
	EnumType     = &Type{Kind: Enum}
	SecretType   = &Type{Kind: Secret}
	BinaryType   = &Type{Kind: Binary}
	DynamicType  = &Type{Kind: Dynamic}
)

// OptionalOf is the optional type of elem.
func OptionalOf(elem *Type) *Type { return &Type{Kind: Optional, Elem: elem} }

// ListOf is the type of lists of elem.
func ListOf(elem *Type) *Type { return &Type{Kind: List, Elem: elem} }

// MapOf is the type of maps from strings to elem.
func MapOf(elem *Type) *Type { return &Type{Kind: Map, Elem: elem} }

// StructOf is the structure name with fields.
func StructOf(name string, fields ...Field) *Type {
	return &Type{Kind: Structure, Name: name, Fields: fields}
}

// ErrorOf is the error name with fields.
func ErrorOf(name string, fields ...Field) *Type {
	return &Type{Kind: Error, Name: name, Fields: fields}
}

// F is the field name of type t.
func F(name string, t *Type) Field { return Field{Name: name, Type: t} }

// field returns t's field name, or nil.
func (t *Type) field(name string) *Field {
	for i := range t.Fields {
		if t.Fields[i].Name == name {
			return &t.Fields[i]
		}
	}
	return nil
}

// hasField reports whether t has a field of m's key.
func (t *Type) hasField(m Member) bool {
	for i := range t.Fields {
		if m.Is(t.Fields[i].Name) {
			return true
		}
	}
	return false
}

// The markers of typed values, as the runtime's vapi_to_json_map names them.
const (
	markStructure = "STRUCTURE"
	markError     = "ERROR"
	markOptional  = "OPTIONAL"
	markSecret    = "SECRET"
	markBinary    = "BINARY"
	// mapEntry is the structure a map's entries travel as.
	mapEntry = "map-entry"
)

// marker is the marker of a structure or error of t.
func (t *Type) marker() string {
	if t.Kind == Error {
		return markError
	}
	return markStructure
}

// describe names what a value of t must be, for an error.
func (t *Type) describe() string {
	switch t.Kind {
	case Void:
		return "null"
	case Boolean:
		return "a boolean"
	case Integer:
		return "an integer"
	case Double:
		return "a number"
	case String, ID, Enum:
		return "a string"
	case DateTime:
		return "an RFC 3339 date-time string"
	case Secret:
		return `{"SECRET": <string>}`
	case Binary:
		return `{"BINARY": <base64 string>}`
	case Optional:
		return `{"OPTIONAL": <value or null>}`
	case List:
		return "a list"
	case Map:
		return `a list of {"STRUCTURE": {"map-entry": {...}}}`
	case Structure, Error:
		return `{"` + t.marker() + `": {"` + t.Name + `": {...}}}`
	}
	return "a vAPI data value"
}
