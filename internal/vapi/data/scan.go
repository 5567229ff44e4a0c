package data

import (
	"bytes"
	"encoding/json"
)

// The scanner below walks JSON that is known to be valid (checked once at the top, by
// json.Valid or by the json.Unmarshal that filled a json.RawMessage) without decoding it into
// maps: a keep-alive's input is a structure in a structure in an optional, and decoding each
// level into a map of its own costs more than the rest of the call.

// Member is a member of a JSON object: its key and its value, undecoded.
type Member struct {
	// quoted is the key as the object spells it, quotes and escapes included: most keys are
	// only compared, which needs no copy.
	quoted []byte
	Value  []byte
}

// Key is the member's key.
func (m Member) Key() string { return unquote(m.quoted) }

// Is reports whether the member's key is key.
func (m Member) Is(key string) bool { return keyIs(m.quoted, key) }

// Members returns the members of raw, valid JSON, in order; ok is false when raw is not an
// object. A key that repeats is kept each time: Lookup finds the last, as encoding/json would.
func Members(raw []byte) (members []Member, ok bool) { return AppendMembers(nil, raw) }

// AppendMembers is Members appending to dst: a caller that reads an object and lets it go
// passes an array of its own, and the members cost no allocation.
func AppendMembers(dst []Member, raw []byte) (members []Member, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return dst, false
	}
	i = skipSpace(raw, i+1)
	members = dst
	for i < len(raw) && raw[i] == '"' {
		end := skipString(raw, i)
		key := raw[i:end]
		i = skipSpace(raw, end) + 1 // past ':'
		start := skipSpace(raw, i)
		i = skipValue(raw, start)
		members = append(members, Member{quoted: key, Value: raw[start:i]})
		if i = skipSpace(raw, i); i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return members, true
}

// Lookup returns the value of key among members, or nil.
func Lookup(members []Member, key string) []byte {
	for i := len(members) - 1; i >= 0; i-- {
		if members[i].Is(key) {
			return members[i].Value
		}
	}
	return nil
}

// elements returns the elements of raw, valid JSON; ok is false when raw is not an array.
func elements(raw []byte) (items [][]byte, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, false
	}
	i = skipSpace(raw, i+1)
	for i < len(raw) && raw[i] != ']' {
		end := skipValue(raw, i)
		items = append(items, raw[i:end])
		if i = skipSpace(raw, end); i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return items, true
}

// Unquote returns the string raw, a valid JSON string, spells; "" when raw is not a string.
func Unquote(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' {
		return ""
	}
	return unquote(raw)
}

// PlainString returns the text of raw, valid JSON, when it is a string with neither escapes nor
// bytes past ASCII: its own bytes, without a copy, for a lookup that needs none (a map's index
// by string(text) allocates nothing). ok is false for any other value: Unquote reads it.
func PlainString(raw []byte) (text []byte, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' || !plainASCII(raw) {
		return nil, false
	}
	return raw[1 : len(raw)-1], true
}

// IsString reports whether raw, valid JSON, is the string s.
func IsString(raw []byte, s string) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) >= 2 && raw[0] == '"' && keyIs(raw, s)
}

// unquote decodes a valid JSON string, without a decoder when it has no escapes.
func unquote(quoted []byte) string {
	if plainASCII(quoted) {
		return string(quoted[1 : len(quoted)-1])
	}
	var s string
	_ = json.Unmarshal(quoted, &s)
	return s
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index past the string that starts at raw[i]. It jumps from quote to
// quote (IndexByte is vectorised); a quote is the end unless an odd number of backslashes
// precede it.
func skipString(raw []byte, i int) int {
	for i++; i < len(raw); i++ {
		q := bytes.IndexByte(raw[i:], '"')
		if q < 0 {
			return len(raw)
		}
		i += q
		backslashes := 0
		for j := i - 1; j >= 0 && raw[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return i + 1
		}
	}
	return len(raw)
}

// skipValue returns the index past the value that starts at raw[i].
func skipValue(raw []byte, i int) int {
	if i >= len(raw) {
		return i
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for ; i < len(raw); i++ {
			switch raw[i] {
			case '"':
				i = skipString(raw, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(raw)
	}
	for ; i < len(raw); i++ {
		switch raw[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	return i
}
