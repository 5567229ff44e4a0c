package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestPayloadRepeatsItsBlockAcrossReads(t *testing.T) {
	size := int64(len(block))*2 + 12345
	got, err := io.ReadAll(newPayload(size))
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(bytes.Clone(block), block...), block[:12345]...)
	if !bytes.Equal(got, want) {
		t.Fatal("the payload is not its block repeated")
	}
	if sum := sha256.Sum256(want); payloadSum(size) != hex.EncodeToString(sum[:]) {
		t.Fatal("payloadSum differs from the SHA-256 of the payload")
	}
}

func TestAnchorWritesTheBodyWhole(t *testing.T) {
	dir := t.TempDir()
	if err := writeHashed(dir, "f", newPayload(5<<20), true); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := io.ReadAll(newPayload(5 << 20)); !bytes.Equal(got, want) {
		t.Fatalf("the anchor wrote %d bytes, not the body", len(got))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("the anchor left %d files, want 1", len(entries))
	}
}
