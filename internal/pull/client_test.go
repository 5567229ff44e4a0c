package pull

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

const payload = "the bytes of a library item's file"

// loopbackAllowed is a Config whose Guard allows 127.0.0.1 only, where the test servers listen.
func loopbackAllowed() Config {
	return Config{Guard: Guard{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}
}

// serve answers payload; hits counts the requests it got.
func serve(hits *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Accept-Encoding") != "" {
			http.Error(w, "asked for an encoding", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, payload)
	}
}

// listenOn starts a plain HTTP server on addr ("127.0.0.2:0").
func listenOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &httptest.Server{Listener: l, Config: &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func fetchAll(t *testing.T, c *Client, ep Endpoint, p Policy) (string, error) {
	t.Helper()
	body, _, err := c.Fetch(context.Background(), ep, p)
	if err != nil {
		return "", err
	}
	defer func() { _ = body.Close() }()
	b, err := io.ReadAll(body)
	return string(b), err
}

func sha256Thumbprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

func TestFetchCertificates(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(serve(&hits))
	defer srv.Close()
	cert := srv.Certificate()
	other := newPKI(t).ca // httptest's servers all present one certificate
	ignore := func(ws ...v1alpha1.WarningType) Policy {
		p := Policy{Ignore: map[v1alpha1.WarningType]bool{}}
		for _, w := range ws {
			p.Ignore[w] = true
		}
		return p
	}
	cases := []struct {
		name        string
		ep          Endpoint
		policy      Policy
		wantWarning v1alpha1.WarningType
		wantErr     bool
	}{
		{name: "the right SHA-1 thumbprint", ep: Endpoint{Thumbprint: ThumbprintSHA1(cert)}},
		{name: "the right SHA-1 thumbprint in lower case without colons",
			ep: Endpoint{Thumbprint: strings.ToLower(strings.ReplaceAll(ThumbprintSHA1(cert), ":", ""))}},
		{name: "the right SHA-256 thumbprint", ep: Endpoint{Thumbprint: sha256Thumbprint(cert)}},
		{name: "another certificate's thumbprint", ep: Endpoint{Thumbprint: ThumbprintSHA1(other)}, wantErr: true},
		{name: "another certificate's thumbprint, whatever the policy ignores",
			ep:     Endpoint{Thumbprint: ThumbprintSHA1(other)},
			policy: ignore(v1alpha1.WarningSelfSigned, v1alpha1.WarningUntrusted), wantErr: true},
		{name: "no thumbprint: a self-signed certificate is refused", wantWarning: v1alpha1.WarningSelfSigned, wantErr: true},
		{name: "no thumbprint, self-signed ignored", policy: ignore(v1alpha1.WarningSelfSigned)},
		{name: "no thumbprint, untrusted ignored, which self-signed is too", policy: ignore(v1alpha1.WarningUntrusted)},
		{name: "no thumbprint, only expired ignored", policy: ignore(v1alpha1.WarningExpired),
			wantWarning: v1alpha1.WarningSelfSigned, wantErr: true},
		{name: "the server's certificate as ssl_certificate", ep: Endpoint{Certificate: certificatePEM(cert)}},
		{name: "another certificate as ssl_certificate", ep: Endpoint{Certificate: certificatePEM(other)},
			wantWarning: v1alpha1.WarningSelfSigned, wantErr: true},
	}
	c := New(loopbackAllowed())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.ep.URI = srv.URL + "/file.vmdk"
			got, err := fetchAll(t, c, tc.ep, tc.policy)
			if !tc.wantErr {
				if err != nil || got != payload {
					t.Fatalf("Fetch = %q, %v; want the payload", got, err)
				}
				return
			}
			var ce *CertificateError
			if !errors.As(err, &ce) {
				t.Fatalf("Fetch error %v, want a *CertificateError", err)
			}
			if ce.Warning != tc.wantWarning {
				t.Errorf("warning %q, want %q", ce.Warning, tc.wantWarning)
			}
			if ce.Leaf == nil || !ce.Leaf.Equal(cert) {
				t.Errorf("the error does not carry the server's certificate")
			}
		})
	}
}

// pki is a CA and a way to issue server certificates from it.
type pki struct {
	ca  *x509.Certificate
	key *ecdsa.PrivateKey
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki{ca: ca, key: key}
}

// server starts a TLS server with a certificate for ips valid from notBefore to notAfter.
func (p *pki) server(t *testing.T, ips []net.IP, dns []string, notBefore, notAfter time.Time) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "server"},
		NotBefore: notBefore, NotAfter: notAfter, IPAddresses: ips, DNSNames: dns,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	srv := httptest.NewUnstartedServer(serve(&hits))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchVerifiesChainsAgainstTheGivenCertificate(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	expired := p.server(t, loopback, nil, now.Add(-2*time.Hour), now.Add(-time.Hour))
	notYet := p.server(t, loopback, nil, now.Add(time.Hour), now.Add(2*time.Hour))
	valid := p.server(t, loopback, nil, now.Add(-time.Hour), now.Add(time.Hour))
	wrongHost := p.server(t, nil, []string{"example.com"}, now.Add(-time.Hour), now.Add(time.Hour))
	all := Policy{Ignore: map[v1alpha1.WarningType]bool{
		v1alpha1.WarningSelfSigned: true, v1alpha1.WarningUntrusted: true,
		v1alpha1.WarningExpired: true, v1alpha1.WarningNotYetValid: true,
	}}
	only := func(w v1alpha1.WarningType) Policy { return Policy{Ignore: map[v1alpha1.WarningType]bool{w: true}} }
	cases := []struct {
		name        string
		srv         *httptest.Server
		trustCA     bool
		policy      Policy
		wantWarning v1alpha1.WarningType
		wantErr     bool
	}{
		{name: "a valid certificate issued by the CA given", srv: valid, trustCA: true},
		{name: "a valid certificate of a CA not given is untrusted", srv: valid,
			wantWarning: v1alpha1.WarningUntrusted, wantErr: true},
		{name: "untrusted, ignored", srv: valid, policy: only(v1alpha1.WarningUntrusted)},
		{name: "untrusted is not self-signed", srv: valid, policy: only(v1alpha1.WarningSelfSigned),
			wantWarning: v1alpha1.WarningUntrusted, wantErr: true},
		{name: "expired", srv: expired, trustCA: true, wantWarning: v1alpha1.WarningExpired, wantErr: true},
		{name: "expired, ignored", srv: expired, trustCA: true, policy: only(v1alpha1.WarningExpired)},
		{name: "expired and untrusted, only expired ignored", srv: expired, policy: only(v1alpha1.WarningExpired),
			wantWarning: v1alpha1.WarningUntrusted, wantErr: true},
		{name: "expired and untrusted, both ignored", srv: expired, policy: all},
		{name: "not yet valid", srv: notYet, trustCA: true, wantWarning: v1alpha1.WarningNotYetValid, wantErr: true},
		{name: "not yet valid, ignored", srv: notYet, trustCA: true, policy: only(v1alpha1.WarningNotYetValid)},
		{name: "not yet valid is not expired", srv: notYet, trustCA: true, policy: only(v1alpha1.WarningExpired),
			wantWarning: v1alpha1.WarningNotYetValid, wantErr: true},
		{name: "another host's certificate is refused whatever is ignored", srv: wrongHost, trustCA: true,
			policy: all, wantErr: true},
	}
	c := New(loopbackAllowed())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ep := Endpoint{URI: tc.srv.URL}
			if tc.trustCA {
				ep.Certificate = certificatePEM(p.ca)
			}
			got, err := fetchAll(t, c, ep, tc.policy)
			if !tc.wantErr {
				if err != nil || got != payload {
					t.Fatalf("Fetch = %q, %v; want the payload", got, err)
				}
				return
			}
			var ce *CertificateError
			if !errors.As(err, &ce) {
				t.Fatalf("Fetch error %v, want a *CertificateError", err)
			}
			if ce.Warning != tc.wantWarning {
				t.Errorf("warning %q, want %q (%v)", ce.Warning, tc.wantWarning, err)
			}
		})
	}
}

func TestFetchRefusesAddresses(t *testing.T) {
	var hits atomic.Int32
	target := listenOn(t, "127.0.0.2:0", serve(&hits))
	redirect := func(to string, code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, code) }
	}
	allowedRedirecting := httptest.NewServer(redirect(target.URL+"/file", http.StatusFound))
	defer allowedRedirecting.Close()
	allowedTLSRedirecting := httptest.NewTLSServer(redirect(target.URL+"/file", http.StatusMovedPermanently))
	defer allowedTLSRedirecting.Close()

	cases := []struct {
		name string
		uri  string
	}{
		{name: "a loopback address not allowed", uri: target.URL + "/file"},
		{name: "a redirect from an allowed server to a refused address", uri: allowedRedirecting.URL},
		{name: "cloud metadata", uri: "http://169.254.169.254/latest/meta-data/"},
		{name: "IPv4-mapped loopback", uri: "http://[::ffff:127.0.0.2]:" + target.URL[strings.LastIndex(target.URL, ":")+1:]},
	}
	c := New(loopbackAllowed())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fetchAll(t, c, Endpoint{URI: tc.uri}, Policy{})
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("Fetch(%s) error %v, want refused", tc.uri, err)
			}
			if status, msg := Classify(err); status != ProbeInvalidURL || !strings.Contains(msg, "refused") {
				t.Errorf("Classify = %s %q, want INVALID_URL saying refused", status, msg)
			}
		})
	}
	// localhost resolves to a loopback address: the address is checked, not the name.
	local := httptest.NewServer(serve(&hits))
	defer local.Close()
	_, err := fetchAll(t, New(Config{}), Endpoint{URI: strings.Replace(local.URL, "127.0.0.1", "localhost", 1)}, Policy{})
	if !errors.Is(err, ErrRefused) {
		t.Errorf("Fetch of localhost: %v, want refused", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the refused servers got %d requests", n)
	}
}

func TestFetchRedirects(t *testing.T) {
	var hits atomic.Int32
	final := httptest.NewServer(serve(&hits))
	defer final.Close()
	// chain redirects n times before answering.
	mux := http.NewServeMux()
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n := r.PathValue("n")
		if n == "0" {
			serve(&hits)(w, r)
			return
		}
		http.Redirect(w, r, "/hop/"+string(rune(n[0]-1)), http.StatusFound)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
	})
	plain := httptest.NewServer(mux)
	defer plain.Close()
	secure := httptest.NewTLSServer(mux)
	defer secure.Close()
	ignoreSelfSigned := Policy{Ignore: map[v1alpha1.WarningType]bool{v1alpha1.WarningSelfSigned: true}}

	cases := []struct {
		name    string
		uri     string
		wantErr string
	}{
		{name: "five redirects are followed", uri: plain.URL + "/hop/5"},
		{name: "six are not", uri: plain.URL + "/hop/6", wantErr: "stopped after 5 redirects"},
		{name: "a redirect to another scheme is refused", uri: plain.URL + "/to?u=ftp://127.0.0.1/file", wantErr: "not http or https"},
		{name: "a redirect from https down to http is refused", uri: secure.URL + "/to?u=" + final.URL, wantErr: "down to"},
		{name: "a redirect from http up to https is followed", uri: plain.URL + "/to?u=" + secure.URL + "/hop/0"},
	}
	c := New(loopbackAllowed())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fetchAll(t, c, Endpoint{URI: tc.uri}, ignoreSelfSigned)
			if tc.wantErr == "" {
				if err != nil || got != payload {
					t.Fatalf("Fetch = %q, %v; want the payload", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Fetch error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestFetchAnswers(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/sized", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "34")
		_, _ = io.WriteString(w, payload)
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/stalls", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "a few bytes")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cfg := loopbackAllowed()
	cfg.IdleTimeout = 200 * time.Millisecond
	c := New(cfg)

	body, size, err := c.Fetch(context.Background(), Endpoint{URI: srv.URL + "/sized"}, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	_ = body.Close()
	if size != int64(len(payload)) {
		t.Errorf("declared size %d, want %d", size, len(payload))
	}

	_, _, err = c.Fetch(context.Background(), Endpoint{URI: srv.URL + "/missing"}, Policy{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Errorf("Fetch of a missing file: %v, want a 404 StatusError", err)
	}

	_, err = fetchAll(t, c, Endpoint{URI: srv.URL + "/stalls"}, Policy{})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Fetch of a stalled body: %v, want a timeout", err)
	}
}

func TestProbe(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(serve(&hits))
	defer srv.Close()
	cert := srv.Certificate()
	refused := listenOn(t, "127.0.0.2:0", serve(&hits))
	stalls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer stalls.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String()
	_ = closed.Close()

	cfg := loopbackAllowed()
	cfg.ProbeTimeout = 300 * time.Millisecond
	c := New(cfg)
	cases := []struct {
		name     string
		ep       Endpoint
		want     ProbeStatus
		wantCert bool
	}{
		{name: "the right thumbprint", ep: Endpoint{URI: srv.URL, Thumbprint: ThumbprintSHA1(cert)}, want: ProbeSuccess, wantCert: true},
		{name: "no thumbprint: the certificate to check", ep: Endpoint{URI: srv.URL}, want: ProbeCertificateError, wantCert: true},
		{name: "a wrong thumbprint", ep: Endpoint{URI: srv.URL, Thumbprint: strings.Repeat("AB:", 19) + "AB"},
			want: ProbeCertificateError, wantCert: true},
		{name: "a refused address", ep: Endpoint{URI: refused.URL}, want: ProbeInvalidURL},
		{name: "another scheme", ep: Endpoint{URI: "ftp://127.0.0.1/file"}, want: ProbeInvalidURL},
		{name: "not a URL", ep: Endpoint{URI: "://"}, want: ProbeInvalidURL},
		{name: "an unknown host", ep: Endpoint{URI: "https://no-such-host.invalid/file"}, want: ProbeHostNotFound},
		{name: "a server that does not answer", ep: Endpoint{URI: stalls.URL}, want: ProbeTimedOut},
		{name: "a closed port", ep: Endpoint{URI: closedURL}, want: ProbeUnknownError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := c.Probe(context.Background(), tc.ep)
			if res.Status != tc.want {
				t.Fatalf("Probe status %s, want %s (%+v)", res.Status, tc.want, res.ErrorMessages)
			}
			if (res.Status == ProbeSuccess) != (len(res.ErrorMessages) == 0) {
				t.Errorf("error messages %+v with status %s", res.ErrorMessages, res.Status)
			}
			if tc.wantCert && (res.SSLThumbprint != ThumbprintSHA1(cert)) {
				t.Errorf("thumbprint %q, want the server's", res.SSLThumbprint)
			}
		})
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the servers got %d requests, want 1 (the successful probe's)", n)
	}
}

func TestCheckEndpoint(t *testing.T) {
	cert := httptest.NewUnstartedServer(nil)
	cert.StartTLS()
	defer cert.Close()
	cases := []struct {
		name    string
		ep      Endpoint
		wantErr bool
	}{
		{name: "an https URL", ep: Endpoint{URI: "https://example.com/a.ovf"}},
		{name: "a SHA-1 thumbprint", ep: Endpoint{URI: "https://example.com/a", Thumbprint: ThumbprintSHA1(cert.Certificate())}},
		{name: "a PEM certificate", ep: Endpoint{URI: "https://example.com/a", Certificate: certificatePEM(cert.Certificate())}},
		{name: "a file URL", ep: Endpoint{URI: "file:///etc/passwd"}, wantErr: true},
		{name: "no host", ep: Endpoint{URI: "http:///a"}, wantErr: true},
		{name: "a thumbprint of 19 bytes", ep: Endpoint{URI: "https://example.com/a", Thumbprint: strings.Repeat("AB:", 18) + "AB"}, wantErr: true},
		{name: "a thumbprint not in hex", ep: Endpoint{URI: "https://example.com/a", Thumbprint: "not hex"}, wantErr: true},
		{name: "a certificate not in PEM", ep: Endpoint{URI: "https://example.com/a", Certificate: "MIIB..."}, wantErr: true},
	}
	for _, tc := range cases {
		if err := CheckEndpoint(tc.ep); (err != nil) != tc.wantErr {
			t.Errorf("%s: CheckEndpoint = %v, want error %v", tc.name, err, tc.wantErr)
		}
	}
}
