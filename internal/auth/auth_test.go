package auth

import (
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCredentials(t *testing.T) {
	basic := func(userPass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
	}
	cases := []struct {
		name    string
		header  map[string]string
		want    Credential
		wantErr error
	}{
		{"bearer token", map[string]string{"Authorization": "Bearer tok"}, Credential{Token: "tok"}, nil},
		{"lower-case scheme", map[string]string{"Authorization": "bearer tok"}, Credential{Token: "tok"}, nil},
		{"session id header", map[string]string{SessionIDHeader: "tok"}, Credential{Token: "tok", Session: true}, nil},
		{"authorization wins over the session id", map[string]string{"Authorization": "Bearer a", SessionIDHeader: "b"},
			Credential{Token: "a"}, nil},
		{"basic auth carries the token as its password", map[string]string{"Authorization": basic("govc:tok")},
			Credential{Token: "tok", Basic: true, User: "govc"}, nil},
		{"basic auth with an empty user name", map[string]string{"Authorization": basic(":tok")},
			Credential{Token: "tok", Basic: true}, nil},
		{"basic auth with an empty password", map[string]string{"Authorization": basic("govc:")}, Credential{}, ErrBasicPassword},
		{"basic auth without a colon", map[string]string{"Authorization": basic("govc")}, Credential{}, ErrBasicPassword},
		{"basic auth that is not base64", map[string]string{"Authorization": "Basic !!!"}, Credential{}, ErrBasicPassword},
		{"basic auth with a password over the size limit", map[string]string{
			"Authorization": basic("govc:" + strings.Repeat("t", maxTokenLength+1))}, Credential{}, ErrBasicPassword},
		{"basic auth with a control byte in the user name", map[string]string{"Authorization": basic("go\nvc:tok")},
			Credential{}, ErrBasicPassword},
		{"basic auth with invalid UTF-8 in the user name", map[string]string{"Authorization": basic("\xff:tok")},
			Credential{}, ErrBasicPassword},
		{"bearer token over the size limit", map[string]string{"Authorization": "Bearer " + strings.Repeat("t", maxTokenLength+1)},
			Credential{}, ErrInvalidToken},
		{"no credentials", map[string]string{}, Credential{}, ErrNoCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			got, err := Credentials(r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("credential (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("malformed schemes are refused", func(t *testing.T) {
		for _, h := range []string{"Bearer ", "Token abc", "Bearer"} {
			r := httptest.NewRequest("POST", "/", nil)
			r.Header.Set("Authorization", h)
			if _, err := Credentials(r); err == nil {
				t.Errorf("Authorization %q was accepted", h)
			}
		}
	})
}
