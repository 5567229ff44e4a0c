package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
)

// forger makes tokens shaped as the cluster's service-account tokens, RS256 JWTs with its
// issuer and audience, signed by a key of its own that the cluster does not know: what a pod
// that read its own token can forge.
type forger struct {
	// claims are those of a real token (issuer, audience, subject), copied into every forgery.
	claims map[string]any
	// signature is the forger's key's signature of its first token. Signing each token anew
	// would cost the load generator about 2 ms of CPU a request, taken from the server it
	// measures; and no verifier can tell the difference, since none knows the key: whether it
	// looks the key id up or tries the keys it has, the signature fails either way.
	signature string
}

// newForger makes a forger of tokens like template, a real service-account token (never sent).
func newForger(template string) (*forger, error) {
	parts := strings.Split(template, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the template token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("the template token's payload: %w", err)
	}
	f := &forger{}
	if err := json.Unmarshal(payload, &f.claims); err != nil {
		return nil, fmt.Errorf("the template token's payload: %w", err)
	}
	if f.claims["iss"] == nil || f.claims["aud"] == nil {
		return nil, fmt.Errorf("the template token has no issuer or audience")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(f.signingInput()))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return nil, err
	}
	f.signature = base64.RawURLEncoding.EncodeToString(sig)
	return f, nil
}

// token is a fresh forgery: a key id and a token id of its own, so that no cache of refused
// tokens answers it, and a future expiry.
func (f *forger) token() string { return f.signingInput() + "." + f.signature }

// signingInput is a fresh forgery's header and payload.
func (f *forger) signingInput() string {
	now := time.Now()
	claims := maps.Clone(f.claims)
	claims["iat"], claims["nbf"], claims["exp"] = now.Unix(), now.Unix(), now.Add(time.Hour).Unix()
	claims["jti"] = randomToken()
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": randomToken()})
	payload, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
}
