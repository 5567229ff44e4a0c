package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"

	"github.com/contentlib/update-session-operator/internal/testenv"
)

// writeServingCert writes a self-signed certificate for 127.0.0.1 and its key into dir as
// tls.crt and tls.key, the layout of --rest-cert-dir, and returns a pool that trusts it.
func writeServingCert(dir string) (*x509.CertPool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	certPEM, err := testenv.WriteServingCert(dir, "bench")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool, nil
}

// trusting returns a copy of c's transport that trusts roots, as a client with the CA of the
// server's certificate does.
func trusting(c *http.Client, roots *x509.CertPool) *http.Client {
	t := c.Transport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}
}
