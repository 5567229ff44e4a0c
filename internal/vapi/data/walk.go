package data

// MemberFunc reads the value of the member whose key is quoted (as the object spells it), at
// raw[i], nested depth deep: it returns the index past the value and whether the value is valid
// JSON. CheckValue is the one that reads nothing; WalkValue reads an object's members in turn.
type MemberFunc func(quoted, raw []byte, i, depth int) (end int, valid bool)

// WalkObject checks raw as Valid does and, when it is an object, reads its members with member
// in the same pass: a reader of a few members of nested objects (the JSON-RPC envelope) reads
// each byte once, rather than once to check the whole and again at each level it descends.
// object is false when raw is not an object; it is then only checked.
func WalkObject(raw []byte, member MemberFunc) (object, valid bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false, Valid(raw)
	}
	end, valid := walkObject(raw, i, 1, member)
	return true, valid && skipSpace(raw, end) == len(raw)
}

// WalkValue checks the value at raw[i], nested depth deep, as Valid checks a value, reading its
// members with member when it is an object (object true).
func WalkValue(raw []byte, i, depth int, member MemberFunc) (end int, object, valid bool) {
	if i >= len(raw) || raw[i] != '{' {
		end, valid = validValue(raw, i, depth)
		return end, false, valid
	}
	if depth >= maxDepth {
		return i, true, false
	}
	end, valid = walkObject(raw, i, depth+1, member)
	return end, true, valid
}

// CheckValue is the MemberFunc that reads nothing: it checks the value at raw[i] as Valid does.
func CheckValue(_, raw []byte, i, depth int) (int, bool) { return validValue(raw, i, depth) }

// KeyText returns the text of quoted, a valid JSON string (a member's key as MemberFunc gets
// it): its own bytes, without a copy, unless it has escapes or bytes past ASCII. A MemberFunc
// switches on string(KeyText(key)), which costs no copy either.
func KeyText(quoted []byte) []byte {
	if plainASCII(quoted) {
		return quoted[1 : len(quoted)-1]
	}
	return []byte(unquote(quoted))
}

// walkObject checks the object at raw[i], reading each member's value with member.
func walkObject(raw []byte, i, depth int, member MemberFunc) (int, bool) {
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return i, false
		}
		start := i
		var ok bool
		if i, ok = validString(raw, i); !ok {
			return i, false
		}
		key := raw[start:i]
		if i = skipSpace(raw, i); i >= len(raw) || raw[i] != ':' {
			return i, false
		}
		if i, ok = member(key, raw, skipSpace(raw, i+1), depth); !ok {
			return i, false
		}
		switch i = skipSpace(raw, i); {
		case i < len(raw) && raw[i] == '}':
			return i + 1, true
		case i < len(raw) && raw[i] == ',':
			i = skipSpace(raw, i+1)
		default:
			return i, false
		}
	}
}
