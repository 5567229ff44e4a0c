package session

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxMessageBytes bounds a message the operator stores for a client (status.errorMessage, and
// the Failed condition that repeats it): the limit of an event's note, so that such a message
// fits an event as well as the status.
const MaxMessageBytes = 1024

// truncated marks the end of a message cut to MaxMessageBytes.
const truncated = "…"

// Printable reports whether r may appear in a string a client sends: anything but the "other"
// categories (control characters, format characters such as bidirectional overrides, private
// use, surrogates) and the line and paragraph separators. It is the rule the CRD's patterns
// hold spec strings to (^[^\p{C}\p{Zl}\p{Zp}]*$).
func Printable(r rune) bool {
	return !unicode.In(r, unicode.C, unicode.Zl, unicode.Zp)
}

// FindUnprintable returns the byte offset and the rune of the first part of s that is not
// printable text: a rune Printable refuses, or a byte that is not valid UTF-8 (utf8.RuneError
// then). ok is false when s is printable throughout.
func FindUnprintable(s string) (at int, r rune, ok bool) {
	for at < len(s) {
		r, size := utf8.DecodeRuneInString(s[at:])
		if (r == utf8.RuneError && size == 1) || !Printable(r) {
			return at, r, true
		}
		at += size
	}
	return 0, 0, false
}

// CleanMessage returns message printable and at most MaxMessageBytes long, so that what a
// client reports as the reason of its failure can be stored and shown, never refused: line
// breaks and tabs become spaces, other unprintable runes and bytes that are not UTF-8 become
// U+FFFD, surrounding space is trimmed, and a longer message is cut at a rune boundary and
// ends with "…".
func CleanMessage(message string) string {
	message = strings.TrimSpace(message)
	var b strings.Builder
	b.Grow(min(len(message), MaxMessageBytes+utf8.UTFMax))
	for _, r := range message { // range yields utf8.RuneError for each byte that is not UTF-8
		if b.Len() > MaxMessageBytes {
			break // enough is kept to know the message must be cut
		}
		switch {
		case Printable(r) && r != utf8.RuneError:
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(utf8.RuneError)
		}
	}
	out := b.String()
	if len(out) <= MaxMessageBytes {
		return out
	}
	cut := MaxMessageBytes - len(truncated)
	for !utf8.RuneStart(out[cut]) {
		cut--
	}
	return strings.TrimRightFunc(out[:cut], unicode.IsSpace) + truncated
}
