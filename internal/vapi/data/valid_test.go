package data

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestValidAgreesWithEncodingJSON: Valid accepts exactly what encoding/json's Valid accepts.
func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`null`, `true`, `false`, `0`, `-0`, `12`, `-1.5e+3`, `1E9`, `""`, `"a\"b\\c\/\b\f\n\r\t\u00e9"`, `[]`, `{}`,
		` { "a" : [ 1 , { "b" : null } ] } `, `[[[[]]]]`, "\"\xff\"", createSpecTyped, notFoundTyped,
		``, ` `, `nul`, `truex`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `"a`, "\"a\nb\"", `"\x"`, `"\u12"`, `"\u12g4"`,
		`[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{a:1}`, `{"a":1 "b":2}`, `[1 2]`, `1 2`, `{}}`, `[`, `{"a":[}`,
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	} {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%.40q) = %v, encoding/json says %v", s, got, want)
		}
	}
}
