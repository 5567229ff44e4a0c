package data

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzScanner holds the scanner to encoding/json: Valid accepts what json.Valid accepts, and
// the members Members finds in a valid object are the ones json.Unmarshal finds, last key
// winning.
func FuzzScanner(f *testing.F) {
	for _, seed := range []string{createSpecTyped, modelTyped, notFoundTyped, `{"a":"\"}","b":[1,{"c":null}]}`,
		`{"a\u0062":1,"ab":2}`, `[1,2]`, `"x"`, `{"a":1,}`, `{"a" 1}`, "\"\x01\""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if got, want := Valid(raw), json.Valid(raw); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", raw, got, want)
		}
		var walked []Member
		object, valid := WalkObject(raw, func(key, raw []byte, i, depth int) (int, bool) {
			end, ok := CheckValue(key, raw, i, depth)
			walked = append(walked, Member{quoted: key, Value: raw[i:end]})
			return end, ok
		})
		if want := json.Valid(raw); valid != want {
			t.Fatalf("WalkObject(%q) finds it valid: %v, encoding/json says %v", raw, valid, want)
		}
		if members, isObject := Members(raw); valid && (object != isObject || object && !equalMembers(walked, members)) {
			t.Fatalf("WalkObject(%q) walks %q (object %v), Members finds %q (%v)", raw, walked, object, members, isObject)
		}
		var want map[string]json.RawMessage
		if !json.Valid(raw) || json.Unmarshal(raw, &want) != nil || want == nil {
			return
		}
		members, ok := Members(raw)
		if !ok {
			t.Fatalf("Members(%q) finds no object", raw)
		}
		for key, value := range want {
			if got := Lookup(members, key); !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(value)) {
				t.Fatalf("Members(%q)[%q] = %q, encoding/json says %q", raw, key, got, value)
			}
		}
	})
}

// equalMembers reports whether a and b are the same members, keys and values, in order.
func equalMembers(a, b []Member) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].quoted, b[i].quoted) || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
