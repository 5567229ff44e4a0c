package login

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIsID(t *testing.T) {
	id := hex.EncodeToString(deriveID("a token"))
	for s, want := range map[string]bool{
		id:                                     true,
		strings.ToUpper(id):                    false, // ids are lowercase
		id[:31]:                                false,
		id + "0":                               false,
		"0123456789abcdef0123456789abcdeg":     false,
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0": false, // a JWT
		"":                                     false,
	} {
		if got := IsID(s); got != want {
			t.Errorf("IsID(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestIDsAreTheTokensAndNothingElse: the same token gives the same id on every replica, other
// tokens other ids, and neither the Secret's name nor its data holds the id or the token.
func TestIDsAreTheTokensAndNothingElse(t *testing.T) {
	token := "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("x", 900) + ".sig"
	k := deriveID(token)
	if !bytes.Equal(k, deriveID(token)) {
		t.Fatal("the same token gave two ids")
	}
	if bytes.Equal(k, deriveID(token+"x")) {
		t.Fatal("two tokens gave the same id")
	}
	id := hex.EncodeToString(k)
	if !IsID(id) {
		t.Fatalf("id %q has not the shape of an id", id)
	}
	secret, err := sealed(k, token, "ns", "")
	if err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{"name": secret.Name, "data": string(secret.Data[tokenKey])} {
		if strings.Contains(s, id) || strings.Contains(s, token) || strings.Contains(s, "xxxxxxxx") {
			t.Errorf("the Secret's %s holds the id or the token", what)
		}
	}
	if secret.Immutable == nil || !*secret.Immutable || secret.Type != SecretType || secret.Labels[Label] != "true" {
		t.Errorf("Secret %+v: want immutable, of type %s, labelled %s", secret.ObjectMeta, SecretType, Label)
	}
	got, err := open(k, secret)
	if err != nil || got != token {
		t.Fatalf("open = %.20q, %v; want the token", got, err)
	}
	if _, err := open(deriveID("another token"), secret); err == nil {
		t.Fatal("another id opened the Secret")
	}
	moved := secret.DeepCopy()
	moved.Name = secretName(deriveID("another token"))
	if _, err := open(k, moved); err == nil {
		t.Fatal("the token opened under another Secret's name: the ciphertext is not bound to its name")
	}
}

// TestSecretsSayWhenTheirTokenExpires: the sweeper deletes a login once its token's exp has
// passed; a token without one gets no expiry.
func TestSecretsSayWhenTheirTokenExpires(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	jwt := "eyJhbGciOiJub25lIn0." + base64URL(`{"exp":`+strconv.FormatInt(exp.Unix(), 10)+`}`) + ".sig"
	secret, err := sealed(deriveID(jwt), jwt, "ns", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := secret.Annotations[ExpiresAnnotation]; got != "2030-01-02T03:04:05Z" {
		t.Errorf("expires = %q, want 2030-01-02T03:04:05Z", got)
	}
	secret, err = sealed(deriveID("opaque"), "opaque", "ns", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := secret.Annotations[ExpiresAnnotation]; ok {
		t.Errorf("a token without exp got expires %q", got)
	}
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
