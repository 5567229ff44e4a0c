package pull

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

// ProbeStatus is the outcome of a probe, as the vSphere API's
// com.vmware.content.library.item.updatesession.file.probe_result.status names it.
type ProbeStatus string

// The probe statuses.
const (
	ProbeSuccess          ProbeStatus = "SUCCESS"
	ProbeInvalidURL       ProbeStatus = "INVALID_URL"
	ProbeTimedOut         ProbeStatus = "TIMED_OUT"
	ProbeHostNotFound     ProbeStatus = "HOST_NOT_FOUND"
	ProbeCertificateError ProbeStatus = "CERTIFICATE_ERROR"
	ProbeUnknownError     ProbeStatus = "UNKNOWN_ERROR"
)

// ProbeResult is the vSphere API's probe_result. It carries no ssl_certificate: govmomi would
// pass one to add in place of the thumbprint, and a file keeps only a thumbprint.
type ProbeResult struct {
	Status ProbeStatus `json:"status"`
	// SSLThumbprint is the SHA-1 thumbprint of the server's certificate, for https: what to
	// pass as the endpoint's ssl_certificate_thumbprint.
	SSLThumbprint string         `json:"ssl_thumbprint,omitempty"`
	ErrorMessages []vapi.Message `json:"error_messages,omitempty"`
}

// msgProbe is the id of a probe's error message.
const msgProbe = "com.vmware.content.library.item.updatesession.file.probe_failed"

// Probe tries the endpoint as a PULL would, under the same Guard, and says how it went. The
// server's certificate is verified against the endpoint's thumbprint or certificate, else as
// a browser does; a failure answers CERTIFICATE_ERROR with the certificate's thumbprint, which
// the caller, having checked it, passes to add. The answer's body is not read.
func (c *Client) Probe(ctx context.Context, ep Endpoint) ProbeResult {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
	defer cancel()
	resp, err := c.get(ctx, ep, Policy{})
	if err != nil {
		status, msg := Classify(err)
		res := ProbeResult{Status: status, ErrorMessages: []vapi.Message{{
			ID: msgProbe, DefaultMessage: "Probing " + ep.URI + " failed: " + msg, Args: []string{ep.URI, msg},
		}}}
		if ce := (*CertificateError)(nil); errors.As(err, &ce) && ce.Leaf != nil {
			res.SSLThumbprint = ThumbprintSHA1(ce.Leaf)
		}
		return res
	}
	_ = resp.Body.Close()
	res := ProbeResult{Status: ProbeSuccess}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		res.SSLThumbprint = ThumbprintSHA1(resp.TLS.PeerCertificates[0])
	}
	return res
}

// Classify says what a Fetch's error is, as a probe status and a sentence for a person: the
// message a PULL's file is left in ERROR with.
func Classify(err error) (ProbeStatus, string) {
	var (
		refused *RefusedError
		cert    *CertificateError
		status  *StatusError
		dns     *net.DNSError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &refused):
		return ProbeInvalidURL, refused.Error()
	case errors.As(err, &cert):
		return ProbeCertificateError, cert.Error()
	case errors.Is(err, ErrInvalidURL):
		return ProbeInvalidURL, innermost(err)
	case errors.As(err, &status):
		if status.Code == http.StatusNotFound || status.Code == http.StatusGone {
			return ProbeInvalidURL, status.Error()
		}
		return ProbeUnknownError, status.Error()
	case errors.As(err, &dns):
		return ProbeHostNotFound, "the host " + dns.Name + " was not found"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return ProbeTimedOut, "timed out: " + innermost(err)
	}
	return ProbeUnknownError, innermost(err)
}

// innermost is the message of the error under a *url.Error, which repeats the method and the
// URL a person already knows.
func innermost(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
