// Package transfer holds what moves a file's bytes into a session, apart from HTTP: the
// capability that authorizes an upload URI, the key it is made with, the per-replica registry
// of transfers in flight, and the progress a running transfer writes at a bounded rate.
package transfer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"k8s.io/apimachinery/pkg/types"
)

// idBytes is the length of a transfer id before it is spelled in base64url: 128 random bits.
const idBytes = 16

// NewID returns a fresh transfer id: 128 random bits, spelled in base64url without padding, so
// that it fits a URI path segment as it is.
func NewID() string {
	b := make([]byte, idBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// Capability is the capability of file name of session for transferID: base64url of the
// HMAC-SHA256, under key, of the three joined by NUL (which no name, UID or id holds). It binds
// the upload URI to that one file of that one session: a new add of the file (a new
// transferID) or another session of the same item makes a URI of its own.
func Capability(key []byte, session types.UID, name, transferID string) string {
	return base64.RawURLEncoding.EncodeToString(mac(key, session, name, transferID))
}

// Valid reports whether capability is the Capability of the file, compared in constant time.
func Valid(key []byte, session types.UID, name, transferID, capability string) bool {
	got, err := base64.RawURLEncoding.DecodeString(capability)
	if err != nil {
		return false
	}
	return hmac.Equal(got, mac(key, session, name, transferID))
}

func mac(key []byte, session types.UID, name, transferID string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(session))
	h.Write([]byte{0})
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(transferID))
	return h.Sum(nil)
}
