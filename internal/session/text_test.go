package session

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// crdPattern is the pattern the CRD holds spec.libraryItemID, spec.libraryItemContentVersion
// and status.errorMessage to (api/v1alpha1).
var crdPattern = regexp.MustCompile(`^[^\p{C}\p{Zl}\p{Zp}]*$`)

func TestPrintableMatchesTheCRDPattern(t *testing.T) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		if got, crd := Printable(r), crdPattern.MatchString(string(r)); got != crd {
			t.Fatalf("Printable(%U) = %v, but the CRD pattern matches it: %v", r, got, crd)
		}
	}
}

func TestFindUnprintable(t *testing.T) {
	type found struct {
		At    int
		Rune  rune
		Found bool
	}
	cases := []struct {
		name string
		in   string
		want found
	}{
		{"empty text is printable", "", found{}},
		{"a UUID is printable", "6a3b9c1e-4f2d-4e5a-9b8c-7d6e5f4a3b2c", found{}},
		{"spaces, accents, CJK and emoji are printable", "Élément 項目\u3000🙂 v2", found{}},
		{"a literal replacement character is printable", "a\uFFFDb", found{}},
		{"a bell is found at its byte", "ab\acd", found{2, '\a', true}},
		{"a newline is found", "item\n", found{4, '\n', true}},
		{"DEL is found", "\x7f", found{0, 0x7f, true}},
		{"a C1 control is found", "é\u0085", found{2, 0x85, true}},
		{"a right-to-left override is found", "abc\u202Etxt.exe", found{3, 0x202E, true}},
		{"a zero-width space is found", "a\u200Bb", found{1, 0x200B, true}},
		{"a line separator is found", "a\u2028b", found{1, 0x2028, true}},
		{"a private-use character is found", "\uE000", found{0, 0xE000, true}},
		{"a byte that is not UTF-8 is found as RuneError", "ok\xff", found{2, utf8.RuneError, true}},
		{"a truncated UTF-8 sequence is found", "\xe9\xa0", found{0, utf8.RuneError, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at, r, ok := FindUnprintable(tc.in)
			if diff := cmp.Diff(tc.want, found{at, r, ok}); diff != "" {
				t.Errorf("FindUnprintable(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestCleanMessage(t *testing.T) {
	long := strings.Repeat("x", MaxMessageBytes-2) + "éé" // 1026 bytes: é is two
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"a plain message is kept", "checksum mismatch", "checksum mismatch"},
		{"non-ASCII text is kept", "Prüfsumme falsch: 校验和 🙂", "Prüfsumme falsch: 校验和 🙂"},
		{"line breaks and tabs become spaces", "line 1\nline 2\r\n\tend", "line 1 line 2   end"},
		{"surrounding space is trimmed", "\n\t boom \r\n", "boom"},
		{"control characters become U+FFFD", "a\x00b\ac\x1b[31md\x7f\u009b", "a\uFFFDb\uFFFDc\uFFFD[31md\uFFFD\uFFFD"},
		{"format characters become U+FFFD", "invoice\u202Efdp.exe", "invoice\uFFFDfdp.exe"},
		{"bytes that are not UTF-8 become U+FFFD", "bad \xff\xfe byte", "bad \uFFFD\uFFFD byte"},
		{"a message of exactly the bound is kept", strings.Repeat("m", MaxMessageBytes), strings.Repeat("m", MaxMessageBytes)},
		{"a longer message is cut and marked", strings.Repeat("m", MaxMessageBytes+1),
			strings.Repeat("m", MaxMessageBytes-len("…")) + "…"},
		{"a cut falls on a rune boundary", strings.Repeat("x", MaxMessageBytes-4) + "ééé",
			strings.Repeat("x", MaxMessageBytes-4) + "…"},
		{"a cut drops the space before the mark", strings.Repeat("x", MaxMessageBytes-4) + "\n\n\nyyyy",
			strings.Repeat("x", MaxMessageBytes-4) + "…"},
		{"multi-byte text is cut to the bound", long, strings.Repeat("x", MaxMessageBytes-3) + "…"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CleanMessage(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("CleanMessage (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCleanMessageIsBoundedAndPrintable: whatever a client sends, what is stored is printable
// UTF-8 within MaxMessageBytes, and cleaning it again changes nothing.
func TestCleanMessageIsBoundedAndPrintable(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("\a\n\xff🙂\u202E", 10<<10),
		strings.Repeat(" ", 2*MaxMessageBytes) + "tail",
		strings.Repeat("\xff", MaxMessageBytes),
		strings.Repeat("é", MaxMessageBytes),
	} {
		got := CleanMessage(in)
		if len(got) > MaxMessageBytes {
			t.Errorf("CleanMessage gave %d bytes, more than %d", len(got), MaxMessageBytes)
		}
		if at, r, found := FindUnprintable(got); found {
			t.Errorf("CleanMessage kept %U at byte %d", r, at)
		}
		if again := CleanMessage(got); again != got {
			t.Errorf("CleanMessage is not idempotent: %q became %q", got, again)
		}
	}
}
