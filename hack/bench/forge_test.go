package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestForgedTokensAreFreshServiceAccountLookalikes(t *testing.T) {
	claims := map[string]any{"iss": "https://kubernetes.default.svc.cluster.local",
		"aud": []string{"https://kubernetes.default.svc.cluster.local"}, "sub": "system:serviceaccount:ns:forger",
		"exp": 1, "jti": "template"}
	template := jwtOf(t, map[string]any{"alg": "RS256", "kid": "cluster-key"}, claims)
	f, err := newForger(template)
	if err != nil {
		t.Fatal(err)
	}
	first, second := f.token(), f.token()
	if first == second {
		t.Fatal("two forgeries are the same token; a cache of refused tokens would answer the second")
	}
	h1, c1 := decodeJWT(t, first)
	h2, c2 := decodeJWT(t, second)
	if h1["alg"] != "RS256" || h1["kid"] == "cluster-key" || h1["kid"] == h2["kid"] {
		t.Errorf("headers %v and %v: want RS256 with a fresh key id each, not the cluster's", h1, h2)
	}
	if c1["jti"] == c2["jti"] || c1["jti"] == "template" {
		t.Errorf("token ids %v and %v: want a fresh one each", c1["jti"], c2["jti"])
	}
	for _, claim := range []string{"iss", "aud", "sub"} {
		if got, want := string(mustJSON(t, c1[claim])), string(mustJSON(t, claims[claim])); got != want {
			t.Errorf("claim %s = %s, want the template's %s", claim, got, want)
		}
	}
	if exp, _ := c1["exp"].(float64); time.Unix(int64(exp), 0).Before(time.Now().Add(time.Minute)) {
		t.Errorf("exp = %v, want in the future", c1["exp"])
	}
	if sig := strings.Split(first, ".")[2]; len(sig) != base64.RawURLEncoding.EncodedLen(256) {
		t.Errorf("signature of %d characters, want an RSA-2048 signature's", len(sig))
	}
}

func TestForgerRefusesTokensThatAreNoJWT(t *testing.T) {
	for _, template := range []string{"opaque", "a.b", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "x"})} {
		if _, err := newForger(template); err == nil {
			t.Errorf("newForger(%q) = nil error, want one: no JWT with an issuer and audience", template)
		}
	}
}

func jwtOf(t *testing.T, header, claims map[string]any) string {
	enc := func(v any) string { return base64.RawURLEncoding.EncodeToString(mustJSON(t, v)) }
	return enc(header) + "." + enc(claims) + ".c2lnbmF0dXJl"
}

func decodeJWT(t *testing.T, token string) (header, claims map[string]any) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", token)
	}
	for i, into := range []*map[string]any{&header, &claims} {
		data, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, into); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func mustJSON(t *testing.T, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
