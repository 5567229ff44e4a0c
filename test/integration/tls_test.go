package integration

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
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
	if _, err := testenv.WriteServingCert(dir, commonName); err != nil {
		t.Fatal(err)
	}
}
