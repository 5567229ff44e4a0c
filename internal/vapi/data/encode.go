package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// dateTimeLayout is how the runtime spells a date-time: UTC, to the millisecond.
const dateTimeLayout = "2006-01-02T15:04:05.000Z"

// dynamicName names the structures of a dynamic value, as the bindings' DynamicStructType does.
const dynamicName = "vmware.vapi.dynamic_struct"

// Encode returns plain, a value of t in plain JSON (as encoding/json marshals a result), in the
// typed encoding: every field of a structure in t's order, an unset optional field as
// {"OPTIONAL":null}, a date-time to the millisecond, a double as the runtime spells it. A value
// that does not match t, or an object with a field t does not know, is a *MismatchError.
func Encode(t *Type, plain []byte) ([]byte, error) {
	if !Valid(plain) {
		return nil, errors.New("the value is not JSON")
	}
	return appendTyped(nil, t, plain)
}

// appendTyped appends the typed encoding of raw, a plain value of t, to dst.
func appendTyped(dst []byte, t *Type, raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch t.Kind {
	case Optional:
		dst = append(dst, `{"OPTIONAL":`...)
		if len(raw) == 0 || isNull(raw) {
			return append(dst, "null}"...), nil
		}
		var err error
		if dst, err = appendTyped(dst, t.Elem, raw); err != nil {
			return nil, err
		}
		return append(dst, '}'), nil
	case Secret, Binary:
		if !isString(raw) || (t.Kind == Binary && !isBase64(raw)) {
			return nil, mismatch(t)
		}
		mark := markSecret
		if t.Kind == Binary {
			mark = markBinary
		}
		return append(append(append(append(append(dst, `{"`...), mark...), `":`...), raw...), '}'), nil
	case List:
		return appendTypedList(dst, t, raw)
	case Map:
		return appendTypedMap(dst, t, raw)
	case Structure, Error:
		return appendTypedStruct(dst, t, raw)
	case Double:
		return appendDouble(dst, t, raw)
	case DateTime:
		return appendDateTime(dst, t, raw)
	case Dynamic:
		return appendTypedDynamic(dst, raw)
	}
	if !isPrimitive(t, raw) {
		return nil, mismatch(t)
	}
	return append(dst, raw...), nil
}

// appendTypedList appends a list; null, as encoding/json marshals a nil slice, is an empty one.
func appendTypedList(dst []byte, t *Type, raw []byte) ([]byte, error) {
	if isNull(raw) {
		return append(dst, "[]"...), nil
	}
	var items []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, mismatch(t)
	}
	dst = append(dst, '[')
	for i, item := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendTyped(dst, t.Elem, item); err != nil {
			return nil, within(err, "["+strconv.Itoa(i)+"]")
		}
	}
	return append(dst, ']'), nil
}

// appendTypedMap appends an object as a list of map-entry structures, by key.
func appendTypedMap(dst []byte, t *Type, raw []byte) ([]byte, error) {
	var members map[string]json.RawMessage
	if !isNull(raw) && (raw[0] != '{' || json.Unmarshal(raw, &members) != nil) {
		return nil, mismatch(t)
	}
	dst = append(dst, '[')
	for i, key := range sortedKeys(members) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"STRUCTURE":{"map-entry":{"key":`...)
		dst = strconv.AppendQuote(dst, key)
		dst = append(dst, `,"value":`...)
		var err error
		if dst, err = appendTyped(dst, t.Elem, members[key]); err != nil {
			return nil, within(err, key)
		}
		dst = append(dst, "}}}"...)
	}
	return append(dst, ']'), nil
}

// appendTypedStruct appends a structure or error with every field of t, in t's order.
func appendTypedStruct(dst []byte, t *Type, raw []byte) ([]byte, error) {
	var members map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &members) != nil {
		return nil, mismatch(t)
	}
	for name := range members {
		if t.field(name) == nil {
			return nil, within(&MismatchError{Want: "a field of " + t.Name}, name)
		}
	}
	dst = append(append(append(dst, `{"`...), t.marker()...), `":{`...)
	dst = append(strconv.AppendQuote(dst, t.Name), ":{"...)
	for i, f := range t.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(strconv.AppendQuote(dst, f.Name), ':')
		value, ok := members[f.Name]
		if !ok && f.Type.Kind != Optional {
			return nil, within(&MismatchError{Want: "set: the field is required"}, f.Name)
		}
		var err error
		if dst, err = appendTyped(dst, f.Type, value); err != nil {
			return nil, within(err, f.Name)
		}
	}
	return append(dst, "}}}"...), nil
}

// appendDouble appends a number as the runtime's canonical double (canonicalize_double):
// "1.5E0", never an integer literal, which the runtime would read as an integer.
func appendDouble(dst []byte, t *Type, raw []byte) ([]byte, error) {
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || !isPrimitive(t, raw) {
		return nil, mismatch(t)
	}
	return append(dst, CanonicalDouble(f)...), nil
}

// CanonicalDouble spells f as XML Schema's canonical double, as the runtime does: a mantissa
// with one digit before its point and at least one after, an exponent without sign or zeros.
func CanonicalDouble(f float64) string {
	s := strconv.FormatFloat(f, 'E', -1, 64) // "-1.5E+00", "1E-07"
	mantissa, exponent, _ := strings.Cut(s, "E")
	if !strings.Contains(mantissa, ".") {
		mantissa += ".0"
	}
	exp, _ := strconv.Atoi(exponent)
	return mantissa + "E" + strconv.Itoa(exp)
}

// appendDateTime appends an RFC 3339 date-time in UTC to the millisecond.
func appendDateTime(dst []byte, t *Type, raw []byte) ([]byte, error) {
	var s string
	if !isString(raw) || json.Unmarshal(raw, &s) != nil {
		return nil, mismatch(t)
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, mismatch(t)
	}
	return strconv.AppendQuote(dst, at.UTC().Format(dateTimeLayout)), nil
}

// appendTypedDynamic appends any plain value: an object as a dynamic structure, a number as an
// integer when it is one, null as an unset optional.
func appendTypedDynamic(dst []byte, raw []byte) ([]byte, error) {
	switch {
	case isNull(raw):
		return append(dst, `{"OPTIONAL":null}`...), nil
	case raw[0] == '[':
		return appendTypedList(dst, ListOf(DynamicType), raw)
	case raw[0] == '{':
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return nil, mismatch(DynamicType)
		}
		fields := make([]Field, 0, len(members))
		for _, name := range sortedKeys(members) {
			fields = append(fields, F(name, DynamicType))
		}
		return appendTypedStruct(dst, StructOf(dynamicName, fields...), raw)
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		if isPrimitive(IntegerType, raw) {
			return append(dst, raw...), nil
		}
		return appendDouble(dst, DoubleType, raw)
	}
	return append(dst, raw...), nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	return slices.Sorted(maps.Keys(m))
}
