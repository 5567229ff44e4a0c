package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contentlib/update-session-operator/internal/admit"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// capsWait bounds what should happen at once, generously for a busy machine.
const capsWait = 30 * time.Second

// TestConnectionCapPerSource holds the connections one source may open, and checks that the
// source's next ones are answered SERVICE_UNAVAILABLE with Retry-After in either form and
// closed, its ones past twice the cap closed at accept, while another source is still served.
func TestConnectionCapPerSource(t *testing.T) {
	ns := env.Namespace(t)
	opts := startOptions(5 * time.Minute)
	opts.RESTConnections = admit.Caps{PerSource: 2}
	srv := startCapped(t, ns, opts)
	host := strings.TrimPrefix(srv, "http://")
	refusedBefore := testutil.ToFloat64(metrics.RESTRefused.WithLabelValues(metrics.RefusedConnections))

	held := []*rawConn{servedConn(t, host, "127.0.0.1", srv), servedConn(t, host, "127.0.0.1", srv)}
	// The next two are accepted past the cap, to be refused once they send a request; the one
	// after them, past twice the cap, is closed at accept.
	overAPI, overREST := dialFrom(t, host, "127.0.0.1"), dialFrom(t, host, "127.0.0.1")
	closed := dialFrom(t, host, "127.0.0.1")
	_ = closed.SetReadDeadline(time.Now().Add(capsWait))
	if n, err := io.Copy(io.Discard, closed); n != 0 || err != nil {
		t.Errorf("a connection past twice the cap read %d bytes and %v, want it closed at once", n, err)
	}
	if r := callFrom(t, "127.0.0.2", srv+apiBase); r.status != http.StatusOK {
		t.Errorf("another source was answered %d, want 200: %s", r.status, r.body)
	}
	for _, c := range []struct {
		conn *rawConn
		base string
	}{{overAPI, apiBase}, {overREST, restBase}} {
		r, err := c.conn.call(t, srv+c.base)
		if err != nil {
			t.Fatalf("a connection past the cap, in %s: %v", c.base, err)
		}
		checkOverCap(t, r, "open connections from 127.0.0.1")
		if !c.conn.closing {
			t.Errorf("a connection past the cap, in %s, was answered without Connection: close", c.base)
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(capsWait))
		if n, err := io.Copy(io.Discard, c.conn.br); n != 0 || err != nil {
			t.Errorf("after its refusal a connection past the cap read %d bytes and %v, want it closed", n, err)
		}
	}
	for i, c := range held { // served on, kept alive
		if r, err := c.call(t, srv+apiBase); err != nil || r.status != http.StatusOK {
			t.Errorf("held connection %d: %v %d %s, want 200", i, err, r.status, r.body)
		}
	}
	if n := testutil.ToFloat64(metrics.RESTRefused.WithLabelValues(metrics.RefusedConnections)) - refusedBefore; n < 3 {
		t.Errorf(`updatesession_rest_refused_total{reason="connections"} rose by %v, want at least 3`, n)
	}
}

// TestRequestsInFlightCaps holds requests in flight, each reading a body that does not come,
// and checks that a source past its cap, then every source past the total, is answered
// SERVICE_UNAVAILABLE with Retry-After at once, while the held requests are served in the end.
func TestRequestsInFlightCaps(t *testing.T) {
	ns := env.Namespace(t)
	opts := startOptions(5 * time.Minute)
	opts.RESTRequests = admit.Caps{Total: 3, PerSource: 2}
	srv := startCapped(t, ns, opts)
	host := strings.TrimPrefix(srv, "http://")
	refusedBefore := testutil.ToFloat64(metrics.RESTRefused.WithLabelValues(metrics.RefusedInFlight))

	held := make([]*heldCreate, 0, 3)
	held = append(held, holdCreate(t, host, "127.0.0.1", srv, "held-1"), holdCreate(t, host, "127.0.0.1", srv, "held-2"))
	for _, base := range []string{apiBase, restBase} {
		checkOverCap(t, callFrom(t, "127.0.0.1", srv+base), "requests in flight from 127.0.0.1")
	}
	if r := callFrom(t, "127.0.0.2", srv+apiBase); r.status != http.StatusOK {
		t.Errorf("another source was answered %d, want 200: %s", r.status, r.body)
	}
	held = append(held, holdCreate(t, host, "127.0.0.2", srv, "held-3"))
	checkOverCap(t, callFrom(t, "127.0.0.3", srv+apiBase), "The server has too many requests in flight")

	for _, h := range held {
		if r := h.finish(t); r.status != http.StatusCreated {
			t.Errorf("held create of %s answered %d, want 201: %s", h.item, r.status, r.body)
		}
	}
	if r := callFrom(t, "127.0.0.1", srv+apiBase); r.status != http.StatusOK {
		t.Errorf("once its calls ended, the first source was answered %d, want 200: %s", r.status, r.body)
	}
	if n := testutil.ToFloat64(metrics.RESTRefused.WithLabelValues(metrics.RefusedInFlight)) - refusedBefore; n < 3 {
		t.Errorf(`updatesession_rest_refused_total{reason="in_flight"} rose by %v, want at least 3`, n)
	}
}

// startCapped is startOperator with opts.
func startCapped(t *testing.T, ns string, opts operator.Options) string {
	t.Helper()
	op := env.StartOperator(t, ns, opts)
	tokens[op.RESTURL] = env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	t.Cleanup(func() { delete(tokens, op.RESTURL) })
	return op.RESTURL
}

// checkOverCap checks that r is a refusal for being past a cap: 503 SERVICE_UNAVAILABLE as a
// vAPI error, with Retry-After, saying why.
func checkOverCap(t *testing.T, r response, why string) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("answered %d, want 503: %s", r.status, r.body)
		return
	}
	if typ := r.errorType(t); typ != "SERVICE_UNAVAILABLE" {
		t.Errorf("error type %s, want SERVICE_UNAVAILABLE", typ)
	}
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After %q, want 1", ra)
	}
	if !strings.Contains(string(r.body), why) {
		t.Errorf("refusal %s does not say %q", r.body, why)
	}
}

// callFrom GETs url from local address ip, on a connection of its own, as the uploader.
func callFrom(t *testing.T, ip, url string) response {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	c := dialFrom(t, u.Host, ip)
	defer func() { _ = c.Close() }()
	r, err := c.call(t, url)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", url, ip, err)
	}
	return r
}

// rawConn is a client connection from a chosen local address, calling one request at a time.
type rawConn struct {
	net.Conn
	br *bufio.Reader
	// closing: the last answer said Connection: close.
	closing bool
}

// dialFrom connects to host from local address ip (any of 127.0.0.0/8 on Linux).
func dialFrom(t *testing.T, host, ip string) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: capsWait}
	c, err := d.DialContext(context.Background(), "tcp", host)
	if err != nil {
		t.Fatalf("dialing %s from %s: %v", host, ip, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

// call GETs url on c as the uploader of its server and reads the answer.
func (c *rawConn) call(t *testing.T, url string) (response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for server, token := range tokens {
		if strings.HasPrefix(url, server) {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	}
	_ = c.SetDeadline(time.Now().Add(capsWait))
	defer func() { _ = c.SetDeadline(time.Time{}) }()
	if err := req.Write(c); err != nil {
		return response{}, err
	}
	r, closing, err := readResponse(c.br, req)
	c.closing = closing
	return r, err
}

// readResponse reads the answer to req, and whether it said Connection: close (a header
// http.ReadResponse takes out).
func readResponse(br *bufio.Reader, req *http.Request) (response, bool, error) {
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return response{}, false, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}, resp.Close, err
}

// servedConn opens a connection from ip that the server serves: a list answered 200. A
// connection closed a moment ago (the test's wait for the listener) may still hold a place, so
// one refused is dropped for another.
func servedConn(t *testing.T, host, ip, srv string) *rawConn {
	t.Helper()
	deadline := time.Now().Add(capsWait)
	for {
		c := dialFrom(t, host, ip)
		r, err := c.call(t, srv+apiBase)
		if err == nil && r.status == http.StatusOK {
			return c
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no connection from %s served: %v %d %s", ip, err, r.status, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// heldCreate is a create whose body has not been sent: its call is in flight, reading it.
type heldCreate struct {
	conn *rawConn
	item string
	body string
}

// holdCreate sends the headers of a create from ip, with Expect: 100-continue, and waits for
// the server's 100 Continue: the server sends it when the call first reads its body, so the
// call is then in flight.
func holdCreate(t *testing.T, host, ip, srv, item string) *heldCreate {
	t.Helper()
	h := &heldCreate{conn: dialFrom(t, host, ip), item: item, body: fmt.Sprintf(`{"library_item_id": %q}`, item)}
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", apiBase, host, tokens[srv], len(h.body))
	_ = h.conn.SetDeadline(time.Now().Add(capsWait))
	if _, err := io.WriteString(h.conn, head); err != nil {
		t.Fatal(err)
	}
	status, err := h.conn.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 100 ") {
		rest, _ := io.ReadAll(io.LimitReader(h.conn.br, 4096))
		t.Fatalf("holding a create from %s: read %q%s and %v, want 100 Continue", ip, status, rest, err)
	}
	if blank, err := h.conn.br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("holding a create from %s: 100 Continue followed by %q, %v", ip, blank, err)
	}
	return h
}

// finish sends the create's body and reads its answer.
func (h *heldCreate) finish(t *testing.T) response {
	t.Helper()
	if _, err := io.WriteString(h.conn, h.body); err != nil {
		t.Fatal(err)
	}
	r, _, err := readResponse(h.conn.br, &http.Request{Method: http.MethodPost})
	if err != nil {
		t.Fatalf("held create of %s: %v", h.item, err)
	}
	return r
}
