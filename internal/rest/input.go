package rest

import (
	"fmt"
	"unicode/utf8"

	"github.com/contentlib/update-session-operator/internal/session"
)

// maxIdentifierLength bounds, in characters as the CRD counts them, the identifiers a client
// sends: library_item_id and library_item_content_version (the spec's bound) and client_token
// (kept in an annotation).
const maxIdentifierLength = 255

// checkParams refuses named parameters (see operation.params) that are not identifiers: every
// one is optional, and stored (client_token) or sent on to the API server (library_item_id).
func checkParams(params map[string]string) error {
	for name, value := range params {
		if err := checkIdentifier(name, value, false); err != nil {
			return err
		}
	}
	return nil
}

// check refuses a create's identifiers that the spec could not hold, or that would carry
// control characters into the session, its events and its logs.
func (in sessionInput) check() error {
	if err := checkIdentifier(paramLibraryItemID, in.LibraryItemID, true); err != nil {
		return err
	}
	return checkIdentifier("library_item_content_version", in.LibraryItemContentVersion, false)
}

// checkIdentifier refuses value unless it is printable UTF-8 (session.FindUnprintable) of at
// most maxIdentifierLength characters, and not empty when required. Identifiers are refused,
// never cleaned: a changed id would name something else. The refusal names field and the rule,
// not the value.
func checkIdentifier(field, value string, required bool) error {
	if n := utf8.RuneCountInString(value); (required && n == 0) || n > maxIdentifierLength {
		what := "at most"
		if required {
			what = "1 to"
		}
		return invalidArgument("%s must be %s %d characters long; it has %d", field, what, maxIdentifierLength, n)
	}
	if at, r, found := session.FindUnprintable(value); found {
		return invalidArgument("%s must be printable UTF-8 text; it holds %s at byte %d", field, describeRune(r), at)
	}
	return nil
}

// describeRune names an unprintable rune for a refusal without repeating it.
func describeRune(r rune) string {
	if r == utf8.RuneError {
		return "a byte that is not UTF-8"
	}
	return fmt.Sprintf("the unprintable character %U", r)
}
