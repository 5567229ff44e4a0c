package pull

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // vSphere's thumbprints are SHA-1; a pin compares, it does not sign.
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// Policy is what a session lets a PULL overlook in a server's certificate when no thumbprint
// or certificate pins it: its spec.warningBehavior.
type Policy struct {
	Ignore map[v1alpha1.WarningType]bool
}

// PolicyFor is the Policy of a session's spec.warningBehavior.
func PolicyFor(wb []v1alpha1.WarningBehavior) Policy {
	p := Policy{Ignore: map[v1alpha1.WarningType]bool{}}
	for _, w := range wb {
		if w.Ignored {
			p.Ignore[w.Type] = true
		}
	}
	return p
}

// ignores reports whether the policy overlooks warning w. A self-signed certificate is an
// untrusted one too: ignoring UNTRUSTED_CERTIFICATE ignores it as well.
func (p Policy) ignores(w v1alpha1.WarningType) bool {
	return w != "" && (p.Ignore[w] || w == v1alpha1.WarningSelfSigned && p.Ignore[v1alpha1.WarningUntrusted])
}

// CertificateError says a server's certificate was not accepted: it did not match the pin, or
// failed verification with a warning the session does not ignore.
type CertificateError struct {
	// Leaf is the certificate the server presented.
	Leaf *x509.Certificate
	// Warning is the class of the failure when it is one a session may ignore; empty for a
	// pin mismatch or a wrong host name.
	Warning v1alpha1.WarningType
	Err     error
}

func (e *CertificateError) Error() string {
	if e.Warning != "" {
		return fmt.Sprintf("the server's certificate is not accepted (%s): %v", e.Warning, e.Err)
	}
	return fmt.Sprintf("the server's certificate is not accepted: %v", e.Err)
}

func (e *CertificateError) Unwrap() error { return e.Err }

// ThumbprintSHA1 is the certificate's SHA-1 thumbprint as vSphere and govmomi write it,
// "AA:BB:...".
func ThumbprintSHA1(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) //nolint:gosec // see the import.
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	parts := make([]string, 0, len(b))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// certificatePEM is the certificate in PEM, as an endpoint's ssl_certificate carries it.
func certificatePEM(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// parseThumbprint decodes a SHA-1 or SHA-256 thumbprint, hex with or without colons, in
// either case.
func parseThumbprint(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if err != nil || (len(b) != sha1.Size && len(b) != sha256.Size) {
		return nil, fmt.Errorf("the thumbprint %q is neither a SHA-1 nor a SHA-256 digest in hex", s)
	}
	return b, nil
}

// parseCertificates decodes the PEM certificates of an endpoint's ssl_certificate.
func parseCertificates(s string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(s)
	for {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("the ssl_certificate is not a valid certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("the ssl_certificate holds no PEM certificate")
	}
	return certs, nil
}

// CheckEndpoint refuses an endpoint whose thumbprint or certificate cannot be used, saying why,
// so that add can refuse it at once rather than the transfer failing later.
func CheckEndpoint(ep Endpoint) error {
	if _, err := parseURL(ep.URI); err != nil {
		return err
	}
	if ep.Thumbprint != "" {
		if _, err := parseThumbprint(ep.Thumbprint); err != nil {
			return err
		}
	}
	if ep.Certificate != "" {
		if _, err := parseCertificates(ep.Certificate); err != nil {
			return err
		}
	}
	return nil
}

// verifier checks a server's certificate for one endpoint.
type verifier struct {
	pin    []byte              // a thumbprint: the leaf must match it, nothing else is checked
	trust  []*x509.Certificate // an ssl_certificate: the leaf is it, or chains to it
	policy Policy
	now    func() time.Time
}

func newVerifier(ep Endpoint, p Policy) (*verifier, error) {
	v := &verifier{policy: p, now: time.Now}
	var err error
	if ep.Thumbprint != "" {
		if v.pin, err = parseThumbprint(ep.Thumbprint); err != nil {
			return nil, err
		}
	} else if ep.Certificate != "" {
		if v.trust, err = parseCertificates(ep.Certificate); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// verify checks the chain a server presented for host; it returns a *CertificateError.
func (v *verifier) verify(certs []*x509.Certificate, host string) error {
	if len(certs) == 0 {
		return &CertificateError{Err: errors.New("the server presented no certificate")}
	}
	leaf := certs[0]
	if v.pin != nil {
		return v.verifyPin(leaf)
	}
	opts := x509.VerifyOptions{DNSName: host, Intermediates: x509.NewCertPool(), CurrentTime: v.now()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if v.trust != nil {
		opts.Roots = x509.NewCertPool()
		for _, c := range v.trust {
			if c.Equal(leaf) {
				return nil // the certificate given is the server's: a pin, as a thumbprint is.
			}
			opts.Roots.AddCert(c)
		}
	}
	return v.verifyChain(leaf, opts)
}

func (v *verifier) verifyPin(leaf *x509.Certificate) error {
	var got []byte
	if len(v.pin) == sha1.Size {
		s := sha1.Sum(leaf.Raw) //nolint:gosec // see the import.
		got = s[:]
	} else {
		s := sha256.Sum256(leaf.Raw)
		got = s[:]
	}
	if subtle.ConstantTimeCompare(got, v.pin) != 1 {
		return &CertificateError{Leaf: leaf, Err: fmt.Errorf(
			"its thumbprint is %s, not the %s given", ThumbprintSHA1(leaf), colonHex(v.pin))}
	}
	return nil
}

// verifyChain verifies as a browser does, then overlooks what the policy ignores: a validity
// period ignored is verified again at a time within it, an unknown authority ignored passes (the
// host name was checked before it).
func (v *verifier) verifyChain(leaf *x509.Certificate, opts x509.VerifyOptions) error {
	for {
		_, err := leaf.Verify(opts)
		if err == nil {
			return nil
		}
		w := warningOf(err, leaf, opts.CurrentTime)
		if !v.policy.ignores(w) {
			return &CertificateError{Leaf: leaf, Warning: w, Err: err}
		}
		switch w {
		case v1alpha1.WarningExpired:
			if opts.CurrentTime.Equal(leaf.NotAfter) {
				return &CertificateError{Leaf: leaf, Warning: w, Err: err}
			}
			opts.CurrentTime = leaf.NotAfter
		case v1alpha1.WarningNotYetValid:
			if opts.CurrentTime.Equal(leaf.NotBefore) {
				return &CertificateError{Leaf: leaf, Warning: w, Err: err}
			}
			opts.CurrentTime = leaf.NotBefore
		default:
			return nil
		}
	}
}

// warningOf is the vSphere warning a verification error is, or empty when it is none (a wrong
// host name, a certificate not for servers: never ignored).
func warningOf(err error, leaf *x509.Certificate, now time.Time) v1alpha1.WarningType {
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		if now.Before(leaf.NotBefore) {
			return v1alpha1.WarningNotYetValid
		}
		return v1alpha1.WarningExpired
	case errors.As(err, &unknown):
		if selfSigned(leaf) {
			return v1alpha1.WarningSelfSigned
		}
		return v1alpha1.WarningUntrusted
	}
	return ""
}

// selfSigned reports whether the certificate is signed by its own key.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// tlsConfig is the client's TLS configuration for a connection to host: Go's verification is
// off, verify does it instead, with the pin and the policy.
func (v *verifier) tlsConfig(host string) *tls.Config {
	return &tls.Config{
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // VerifyConnection verifies, see verify.
		VerifyConnection: func(cs tls.ConnectionState) error {
			return v.verify(cs.PeerCertificates, host)
		},
	}
}
