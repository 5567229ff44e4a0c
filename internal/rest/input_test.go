package rest

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

func TestNewSessionChecksIdentifiers(t *testing.T) {
	cases := []struct {
		name    string
		in      sessionInput
		wantErr string // empty: accepted
	}{
		{"a UUID item id is accepted", sessionInput{LibraryItemID: "6a3b9c1e-4f2d-4e5a-9b8c-7d6e5f4a3b2c"}, ""},
		{"255 characters of multi-byte text are accepted", sessionInput{LibraryItemID: strings.Repeat("項", 255)}, ""},
		{"a content version is accepted", sessionInput{LibraryItemID: "i", LibraryItemContentVersion: "7"}, ""},
		{"an empty item id is refused", sessionInput{},
			"library_item_id must be 1 to 255 characters long; it has 0"},
		{"256 characters are refused", sessionInput{LibraryItemID: strings.Repeat("i", 256)},
			"library_item_id must be 1 to 255 characters long; it has 256"},
		{"a bell in the item id is refused", sessionInput{LibraryItemID: "item\a"},
			"library_item_id must be printable UTF-8 text; it holds the unprintable character U+0007 at byte 4"},
		{"an item id that is not UTF-8 is refused", sessionInput{LibraryItemID: "\xffitem"},
			"library_item_id must be printable UTF-8 text; it holds a byte that is not UTF-8 at byte 0"},
		{"a right-to-left override in the item id is refused", sessionInput{LibraryItemID: "a\u202Eb"},
			"library_item_id must be printable UTF-8 text; it holds the unprintable character U+202E at byte 1"},
		{"a newline in the content version is refused", sessionInput{LibraryItemID: "i", LibraryItemContentVersion: "1\n"},
			"library_item_content_version must be printable UTF-8 text; it holds the unprintable character U+000A at byte 1"},
		{"a content version of 256 characters is refused", sessionInput{LibraryItemID: "i", LibraryItemContentVersion: strings.Repeat("v", 256)},
			"library_item_content_version must be at most 255 characters long; it has 256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newSession("ns", tc.in)
			checkRefusal(t, err, tc.wantErr)
		})
	}
}

// TestUnwrapChecksParams: client_token and library_item_id are held to the identifier rules
// in both forms, whether they come from the query or the /rest form's wrapper.
func TestUnwrapChecksParams(t *testing.T) {
	create := operations[route{"POST", false, ""}]
	list := operations[route{"GET", false, ""}]
	cases := []struct {
		name    string
		form    *form
		op      *operation
		query   string
		body    string
		wantErr string
	}{
		{"an api-form token is accepted", apiForm, create, "client_token=retry-1", `{"library_item_id": "i"}`, ""},
		{"a rest-form token is accepted", restForm, create, "", `{"client_token": "retry-1", "create_spec": {}}`, ""},
		{"an empty token is no token", restForm, create, "", `{"client_token": ""}`, ""},
		{"an api-form token with a bell is refused", apiForm, create, "client_token=a%07b", "",
			"client_token must be printable UTF-8 text; it holds the unprintable character U+0007 at byte 1"},
		{"a rest-form token with an escape is refused", restForm, create, "", `{"client_token": "\u001b[2J"}`,
			"client_token must be printable UTF-8 text; it holds the unprintable character U+001B at byte 0"},
		{"an api-form token that is not UTF-8 is refused", apiForm, create, "client_token=%FF", "",
			"client_token must be printable UTF-8 text; it holds a byte that is not UTF-8 at byte 0"},
		{"a token of 8 KiB is refused", restForm, create, "", `{"client_token": "` + strings.Repeat(".", 8<<10) + `"}`,
			"client_token must be at most 255 characters long; it has 8192"},
		{"a list filter with a newline is refused", apiForm, list, "library_item_id=a%0Ab", "",
			"library_item_id must be printable UTF-8 text; it holds the unprintable character U+000A at byte 1"},
		{"a list filter of 256 characters is refused", restForm, list, "library_item_id=" + strings.Repeat("i", 256), "",
			"library_item_id must be at most 255 characters long; it has 256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			query, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = tc.form.unwrap(tc.op, []byte(tc.body), query)
			checkRefusal(t, err, tc.wantErr)
		})
	}
}

// checkRefusal fails unless err is nil when want is empty, or an INVALID_ARGUMENT whose
// message contains want.
func checkRefusal(t *testing.T, err error, want string) {
	t.Helper()
	var verr *vapi.Error
	switch {
	case want == "" && err != nil:
		t.Fatalf("want accepted, got %v", err)
	case want == "":
	case !errors.As(err, &verr) || verr.Type != vapi.InvalidArgument:
		t.Fatalf("want INVALID_ARGUMENT containing %q, got %v", want, err)
	case !strings.Contains(verr.Error(), want):
		t.Fatalf("want a message containing %q, got %q", want, verr.Error())
	}
}
