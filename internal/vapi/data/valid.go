package data

// maxDepth bounds the nesting Valid accepts, as encoding/json bounds it.
const maxDepth = 10000

// Valid reports whether raw is one JSON value, as encoding/json's Valid does, in one pass
// without its per-byte state functions. WalkObject checks a JSON-RPC request as it does, while
// it reads the envelope's members.
func Valid(raw []byte) bool {
	i, ok := validValue(raw, skipSpace(raw, 0), 0)
	return ok && skipSpace(raw, i) == len(raw)
}

// validValue returns the index past the valid value at raw[i].
func validValue(raw []byte, i, depth int) (int, bool) {
	if i >= len(raw) {
		return i, false
	}
	switch c := raw[i]; {
	case (c == '{' || c == '[') && depth >= maxDepth:
		return i, false
	case c == '{':
		return validObject(raw, i, depth+1)
	case c == '[':
		return validArray(raw, i, depth+1)
	case c == '"':
		return validString(raw, i)
	case c == 't':
		return validLiteral(raw, i, "true")
	case c == 'f':
		return validLiteral(raw, i, "false")
	case c == 'n':
		return validLiteral(raw, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return validNumber(raw, i)
	}
	return i, false
}

// validObject checks the object at raw[i], reading nothing of its members.
func validObject(raw []byte, i, depth int) (int, bool) { return walkObject(raw, i, depth, CheckValue) }

func validArray(raw []byte, i, depth int) (int, bool) {
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = validValue(raw, i, depth); !ok {
			return i, false
		}
		switch i = skipSpace(raw, i); {
		case i < len(raw) && raw[i] == ']':
			return i + 1, true
		case i < len(raw) && raw[i] == ',':
			i = skipSpace(raw, i+1)
		default:
			return i, false
		}
	}
}

// validString accepts what encoding/json accepts: no control characters, valid escapes; bytes
// that are not UTF-8 are left to the decoder, which replaces them.
func validString(raw []byte, i int) (int, bool) {
	for i++; i < len(raw); i++ {
		// Most of a string is plain text: run over it without the switch below.
		for i < len(raw) && plainInString[raw[i]] {
			i++
		}
		if i >= len(raw) {
			break
		}
		switch c := raw[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i++; i >= len(raw) {
				return i, false
			}
			switch raw[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) || !isHex(raw[i+3]) || !isHex(raw[i+4]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// plainInString marks the bytes a string holds as they are: neither a quote, nor a backslash,
// nor a control character. One lookup a byte is what checking a request costs most.
var plainInString = func() (plain [256]bool) {
	for c := 0x20; c < len(plain); c++ {
		plain[c] = c != '"' && c != '\\'
	}
	return plain
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func validLiteral(raw []byte, i int, lit string) (int, bool) {
	if len(raw)-i < len(lit) || string(raw[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// validNumber accepts JSON's grammar: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
func validNumber(raw []byte, i int) (int, bool) {
	if raw[i] == '-' {
		i++
	}
	switch {
	case i < len(raw) && raw[i] == '0':
		i++
	case i < len(raw) && raw[i] >= '1' && raw[i] <= '9':
		i = digits(raw, i)
	default:
		return i, false
	}
	if i < len(raw) && raw[i] == '.' {
		if j := digits(raw, i+1); j > i+1 {
			i = j
		} else {
			return j, false
		}
	}
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			i++
		}
		j := digits(raw, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits(raw []byte, i int) int {
	for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
		i++
	}
	return i
}
