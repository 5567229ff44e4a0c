package data

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// MismatchError says where a value does not match its type.
type MismatchError struct {
	// Path leads from the top value to the one that does not match: "update_spec.warning_behavior[0]".
	Path string
	// Want describes what the value must be.
	Want string
}

func (e *MismatchError) Error() string {
	if e.Path == "" {
		return "the value must be " + e.Want
	}
	return e.Path + " must be " + e.Want
}

// mismatch is the error of a value that is not of type t.
func mismatch(t *Type) error { return &MismatchError{Want: t.describe()} }

// within prefixes the path of a mismatch found within segment (a field name or "[i]"). Paths
// are built only on the way out of a failure, so that a value that matches costs no string.
func within(err error, segment string) error {
	var m *MismatchError
	if !errors.As(err, &m) {
		return err
	}
	switch {
	case m.Path == "":
		m.Path = segment
	case m.Path[0] == '[':
		m.Path = segment + m.Path
	default:
		m.Path = segment + "." + m.Path
	}
	return m
}

// FieldValue is a set field of a structure, its value in plain JSON.
type FieldValue struct {
	Name  string
	Plain json.RawMessage
}

// Decode returns the plain JSON of typed, a value of t in the typed encoding: a structure is
// an object without its unset optional fields, an unset optional null, a secret a string. A
// value that does not match t is a *MismatchError.
func Decode(t *Type, typed []byte) ([]byte, error) {
	if !Valid(typed) {
		return nil, errors.New("the value is not JSON")
	}
	return appendPlain(nil, t, typed)
}

// DecodeFields returns the set fields of typed, a structure of type t, each in plain JSON, in
// the order of t's fields. A field t does not know is refused unless it is an unset optional,
// which a client with newer bindings sends for a field it leaves out. typed must be valid JSON,
// as a json.RawMessage that encoding/json filled is.
func DecodeFields(t *Type, typed []byte) ([]FieldValue, error) {
	return AppendFields(make([]FieldValue, 0, len(t.Fields)), t, typed)
}

// AppendFields is DecodeFields appending to dst: a caller that reads the fields and lets them
// go passes an array of its own, and they cost no allocation.
func AppendFields(dst []FieldValue, t *Type, typed []byte) ([]FieldValue, error) {
	var buf [16]Member
	members, err := structMembers(buf[:0], t, typed)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if !t.hasField(m) && !isUnsetOptional(m.Value) {
			return nil, within(&MismatchError{Want: "a field of " + t.Name}, m.Key())
		}
	}
	out := dst
	for _, f := range t.Fields {
		raw := Lookup(members, f.Name)
		if raw == nil || (f.Type.Kind == Optional && isUnsetOptional(raw)) {
			if f.Type.Kind != Optional {
				return nil, within(&MismatchError{Want: "set: the field is required"}, f.Name)
			}
			continue
		}
		plain, err := plainOf(f.Type, raw)
		if err != nil {
			return nil, within(err, f.Name)
		}
		out = append(out, FieldValue{Name: f.Name, Plain: plain})
	}
	return out, nil
}

// plainOf returns the plain JSON of raw, a typed value of t: raw itself, or the part of it
// inside its marker, where the two are spelled alike (a string, a secret, a set optional
// integer), so that most fields cost no copy.
func plainOf(t *Type, raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch t.Kind {
	case Optional:
		if inner, ok := unwrap(raw, markOptional); ok && !isNull(inner) {
			if elem, err := plainOf(t.Elem, inner); err == nil {
				return elem, nil
			}
		}
	case Void, Boolean, Integer, Double, String, ID, Enum, DateTime:
		if isPrimitive(t, raw) {
			return raw, nil
		}
	}
	return appendPlain(nil, t, raw)
}

// structMembers appends the fields of typed, a structure or error of type t, undecoded, to dst.
func structMembers(dst []Member, t *Type, typed []byte) ([]Member, error) {
	inner, ok := unwrap(typed, t.marker())
	if !ok {
		return nil, mismatch(t)
	}
	name, body, ok := singleRaw(inner)
	if !ok || !keyIs(name, t.Name) {
		return nil, mismatch(t)
	}
	members, ok := AppendMembers(dst, body)
	if !ok {
		return nil, mismatch(t)
	}
	return members, nil
}

// appendPlain appends the plain JSON of raw, a typed value of t, to dst.
func appendPlain(dst []byte, t *Type, raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch t.Kind {
	case Optional:
		inner, ok := unwrap(raw, markOptional)
		switch {
		case !ok:
			return nil, mismatch(t)
		case isNull(inner):
			return append(dst, "null"...), nil
		}
		return appendPlain(dst, t.Elem, inner)
	case Secret, Binary:
		mark := markSecret
		if t.Kind == Binary {
			mark = markBinary
		}
		inner, ok := unwrap(raw, mark)
		if !ok || !isString(inner) || (t.Kind == Binary && !isBase64(inner)) {
			return nil, mismatch(t)
		}
		return append(dst, bytes.TrimSpace(inner)...), nil
	case List:
		return appendPlainList(dst, t, raw)
	case Map:
		return appendPlainMap(dst, t, raw)
	case Structure, Error:
		fields, err := DecodeFields(t, raw)
		if err != nil {
			return nil, err
		}
		return AppendObject(dst, fields), nil
	case Dynamic:
		return appendPlainDynamic(dst, raw)
	}
	if !isPrimitive(t, raw) {
		return nil, mismatch(t)
	}
	return append(dst, raw...), nil
}

func appendPlainList(dst []byte, t *Type, raw []byte) ([]byte, error) {
	items, ok := elements(raw)
	if !ok {
		return nil, mismatch(t)
	}
	dst = append(dst, '[')
	for i, item := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendPlain(dst, t.Elem, item); err != nil {
			return nil, within(err, "["+strconv.Itoa(i)+"]")
		}
	}
	return append(dst, ']'), nil
}

// entryType is the structure of a map entry whose values are of elem.
func entryType(elem *Type) *Type { return StructOf(mapEntry, F("key", StringType), F("value", elem)) }

// appendPlainMap appends a map, a list of map-entry structures, as an object.
func appendPlainMap(dst []byte, t *Type, raw []byte) ([]byte, error) {
	items, ok := elements(raw)
	if !ok {
		return nil, mismatch(t)
	}
	entry := entryType(t.Elem)
	dst = append(dst, '{')
	for i, item := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendPlainEntry(dst, entry, item); err != nil {
			return nil, within(err, "["+strconv.Itoa(i)+"]")
		}
	}
	return append(dst, '}'), nil
}

// appendPlainEntry appends a map entry as the member "key": value.
func appendPlainEntry(dst []byte, entry *Type, raw []byte) ([]byte, error) {
	fields, err := structMembers(nil, entry, raw)
	if err != nil {
		return nil, err
	}
	key, value := Lookup(fields, "key"), Lookup(fields, "value")
	if len(fields) != 2 || !isString(key) || value == nil {
		return nil, mismatch(entry)
	}
	dst = append(append(dst, bytes.TrimSpace(key)...), ':')
	if dst, err = appendPlain(dst, entry.Fields[1].Type, value); err != nil {
		return nil, within(err, "value")
	}
	return dst, nil
}

// appendPlainDynamic appends a typed value of any type as plain JSON.
func appendPlainDynamic(dst []byte, raw []byte) ([]byte, error) {
	switch {
	case len(raw) > 0 && raw[0] == '[':
		return appendPlainList(dst, ListOf(DynamicType), raw)
	case len(raw) == 0 || raw[0] != '{':
		return append(dst, raw...), nil
	}
	mark, inner, ok := single(raw)
	if !ok {
		return nil, mismatch(DynamicType)
	}
	switch mark {
	case markOptional:
		if isNull(inner) {
			return append(dst, "null"...), nil
		}
		return appendPlainDynamic(dst, inner)
	case markSecret, markBinary:
		if !isString(inner) {
			return nil, mismatch(DynamicType)
		}
		return append(dst, bytes.TrimSpace(inner)...), nil
	case markStructure, markError:
		_, body, ok := single(inner)
		if !ok {
			return nil, mismatch(DynamicType)
		}
		fields, ok := Members(body)
		if !ok {
			return nil, mismatch(DynamicType)
		}
		return appendPlainDynamicFields(dst, fields)
	}
	return nil, mismatch(DynamicType)
}

func appendPlainDynamicFields(dst []byte, fields []Member) ([]byte, error) {
	out := make([]FieldValue, 0, len(fields))
	for _, f := range fields {
		plain, err := appendPlainDynamic(nil, f.Value)
		if err != nil {
			return nil, within(err, f.Key())
		}
		out = append(out, FieldValue{Name: f.Key(), Plain: plain})
	}
	return AppendObject(dst, out), nil
}

// AppendObject appends fields as a plain JSON object.
func AppendObject(dst []byte, fields []FieldValue) []byte {
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, f.Name)
		dst = append(append(dst, ':'), f.Plain...)
	}
	return append(dst, '}')
}

// isPrimitive reports whether raw, valid JSON, is a value of t, a kind without structure.
func isPrimitive(t *Type, raw []byte) bool {
	switch t.Kind {
	case Void:
		return isNull(raw)
	case Boolean:
		return string(raw) == "true" || string(raw) == "false"
	case Integer:
		_, err := strconv.ParseInt(string(raw), 10, 64)
		return err == nil
	case Double:
		return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
	case String, ID, Enum:
		return isString(raw)
	case DateTime:
		var s string
		if !isString(raw) || json.Unmarshal(raw, &s) != nil {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	}
	return false
}

// unwrap returns the value of raw, an object whose one member is mark.
func unwrap(raw []byte, mark string) ([]byte, bool) {
	key, value, ok := singleRaw(raw)
	if !ok || !keyIs(key, mark) {
		return nil, false
	}
	return value, true
}

// keyIs reports whether quoted, a valid JSON string, spells s: without a copy unless it has
// escapes or bytes past ASCII, which encoding/json would decode (a byte that is not UTF-8 reads
// as U+FFFD).
func keyIs(quoted []byte, s string) bool {
	if !plainASCII(quoted) {
		return unquote(quoted) == s
	}
	return string(quoted[1:len(quoted)-1]) == s
}

// plainASCII reports whether quoted has neither escapes nor bytes past ASCII: its text is its
// bytes.
func plainASCII(quoted []byte) bool {
	for _, c := range quoted {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// single returns the one member of raw, an object with exactly one.
func single(raw []byte) (string, []byte, bool) {
	key, value, ok := singleRaw(raw)
	if !ok {
		return "", nil, false
	}
	return unquote(key), value, true
}

// singleRaw returns the one member of raw, an object with exactly one: its key still quoted.
func singleRaw(raw []byte) (key, value []byte, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, nil, false
	}
	if i = skipSpace(raw, i+1); i >= len(raw) || raw[i] != '"' {
		return nil, nil, false
	}
	end := skipString(raw, i)
	start := skipSpace(raw, skipSpace(raw, end)+1) // past ':'
	stop := skipValue(raw, start)
	if j := skipSpace(raw, stop); j >= len(raw) || raw[j] != '}' {
		return nil, nil, false
	}
	return raw[i:end], raw[start:stop], true
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

func isString(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"'
}

// isUnsetOptional reports whether raw is {"OPTIONAL": null}.
func isUnsetOptional(raw []byte) bool {
	inner, ok := unwrap(raw, markOptional)
	return ok && isNull(inner)
}

func isBase64(raw []byte) bool {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}
