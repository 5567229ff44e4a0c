// Package pull fetches the bytes of PULL transfers: an update session's file whose source is
// a URL the server reads. A PULL must not reach what its caller could not: every connection,
// redirects' too, is checked after DNS resolution by a Guard that refuses loopback,
// link-local (cloud metadata), private and cluster-internal addresses unless allowed. Only
// http and https are spoken; a thumbprint or certificate given with the URL pins the server's
// certificate, else it is verified as a browser does, overlooking what the session's
// warningBehavior ignores.
package pull

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Endpoint is where a PULL reads from: a vSphere TransferEndpoint.
type Endpoint struct {
	// URI is the http or https URL.
	URI string
	// Thumbprint, when set, pins the server's leaf certificate: SHA-1 ("AA:BB:...", as vSphere
	// writes it) or SHA-256, colons optional.
	Thumbprint string
	// Certificate, when set and Thumbprint is not, is the PEM certificate the server's must be
	// or chain to.
	Certificate string
}

// Config is what a Client may reach and how long it waits.
type Config struct {
	Guard Guard
	// DialTimeout bounds a connection's connect and its TLS handshake.
	DialTimeout time.Duration
	// HeaderTimeout bounds the wait for the answer's headers once the request is sent.
	HeaderTimeout time.Duration
	// IdleTimeout fails a transfer no byte of which arrived for that long.
	IdleTimeout time.Duration
	// ProbeTimeout bounds a Probe.
	ProbeTimeout time.Duration
	// MaxRedirects is how many redirects a request follows.
	MaxRedirects int
}

// The defaults of Config's zero fields.
const (
	DefaultDialTimeout   = 30 * time.Second
	DefaultHeaderTimeout = time.Minute
	DefaultIdleTimeout   = 2 * time.Minute
	DefaultProbeTimeout  = 30 * time.Second
	DefaultMaxRedirects  = 5
)

// Client fetches PULL sources. It keeps no connection between fetches: each has its own
// certificate rules.
type Client struct {
	cfg Config
}

// New returns a Client; zero fields of cfg take the defaults.
func New(cfg Config) *Client {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.DialTimeout, DefaultDialTimeout)
	def(&cfg.HeaderTimeout, DefaultHeaderTimeout)
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	def(&cfg.ProbeTimeout, DefaultProbeTimeout)
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	return &Client{cfg: cfg}
}

// ErrInvalidURL is what a URL that is not an absolute http or https URL fails with.
var ErrInvalidURL = errors.New("invalid URL")

// StatusError says the server answered with a status other than 2xx.
type StatusError struct {
	Code   int
	Status string
}

func (e *StatusError) Error() string { return "the server answered " + e.Status }

// Fetch GETs the endpoint and returns the body and its declared size (-1 when the server did
// not declare one). The caller closes the body; ctx bounds the whole transfer.
func (c *Client) Fetch(ctx context.Context, ep Endpoint, p Policy) (io.ReadCloser, int64, error) {
	resp, err := c.get(ctx, ep, p)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// get sends the GET and returns a 2xx answer.
func (c *Client) get(ctx context.Context, ep Endpoint, p Policy) (*http.Response, error) {
	u, err := parseURL(ep.URI)
	if err != nil {
		return nil, err
	}
	v, err := newVerifier(ep, p)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	hc := &http.Client{Transport: c.transport(v), CheckRedirect: c.checkRedirect}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		_ = resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	return resp, nil
}

// parseURL accepts an absolute http or https URL with a host.
func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q cannot be parsed", ErrInvalidURL, s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: the scheme of %q is not http or https", ErrInvalidURL, s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w: %q names no host", ErrInvalidURL, s)
	}
	return u, nil
}

// checkRedirect follows at most MaxRedirects redirects, to http or https only, and never from
// https down to http.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.cfg.MaxRedirects {
		return fmt.Errorf("stopped after %d redirects", c.cfg.MaxRedirects)
	}
	if _, err := parseURL(req.URL.String()); err != nil {
		return fmt.Errorf("redirected to %q: %w", req.URL.Redacted(), err)
	}
	if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme == "http" {
		return fmt.Errorf("%w: redirected from https down to %q", ErrInvalidURL, req.URL.Redacted())
	}
	return nil
}

// transport dials through the Guard, with no proxy (a proxy would be dialed instead of the
// source, and the Guard would check the proxy), and TLS verified by v. It asks for no
// compression: the bytes stored are the bytes served.
func (c *Client) transport(v *verifier) *http.Transport {
	d := &net.Dialer{Timeout: c.cfg.DialTimeout, Control: c.cfg.Guard.control}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: conn, idle: c.cfg.IdleTimeout}, nil
	}
	return &http.Transport{
		Proxy:       nil,
		DialContext: dial,
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(conn, v.tlsConfig(host))
			hctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
			defer cancel()
			if err := tc.HandshakeContext(hctx); err != nil {
				_ = conn.Close()
				return nil, err
			}
			return tc, nil
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		ResponseHeaderTimeout:  c.cfg.HeaderTimeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// idleConn fails a read that waits longer than idle for a byte: a source that stops sending
// must not hold a transfer for ever.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	if err := c.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}
