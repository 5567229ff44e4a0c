package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
)

func TestHTTPSWithCertificateReload(t *testing.T) {
	ns := env.Namespace(t)
	dir := t.TempDir()
	writeCert(t, dir, "rest-1")
	op := env.StartOperator(t, ns, operator.Options{
		Policy:      session.Policy{DefaultTimeout: time.Minute, TerminalRetention: time.Hour},
		RESTCertDir: dir,
	})
	token := env.ServiceAccount(t, ns, "uploader", "get", "list").Token
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func() (*http.Response, error) {
		req, _ := http.NewRequest("GET", op.RESTURL+apiBase, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return client.Do(req)
	}

	resp, err := get()
	if err != nil {
		t.Fatalf("HTTPS call: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS.PeerCertificates[0].Subject.CommonName != "rest-1" {
		t.Fatalf("status %d, certificate %q", resp.StatusCode, resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
	plain := strings.Replace(op.RESTURL, "https://", "http://", 1)
	if resp, err := http.Get(plain + apiBase); err == nil && resp.StatusCode < 400 {
		t.Fatalf("plain HTTP to the HTTPS server answered %d", resp.StatusCode)
	}

	writeCert(t, dir, "rest-2")
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := get()
		if err == nil {
			_ = resp.Body.Close()
			if resp.TLS.PeerCertificates[0].Subject.CommonName == "rest-2" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the REST server still serves the old certificate 20s after it changed")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeCert writes a self-signed tls.crt and tls.key for 127.0.0.1 into dir.
func writeCert(t *testing.T, dir, commonName string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: commonName},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Write beside and rename, as a Secret volume updates: the watcher never sees half a file.
	for name, block := range map[string]*pem.Block{
		"tls.key": {Type: "PRIVATE KEY", Bytes: keyDER},
		"tls.crt": {Type: "CERTIFICATE", Bytes: der},
	} {
		tmp := filepath.Join(dir, "."+name)
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}
