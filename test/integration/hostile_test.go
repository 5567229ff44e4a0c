package integration

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/contentlib/update-session-operator/internal/metrics"
)

// TestHostileRequests sends broken and hostile requests, each as an authorized uploader unless
// it is about credentials, and checks that each gets its status and a vAPI JSON error, and that
// no session changes.
func TestHostileRequests(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	id := apiURLs.create(t, srv, `{"library_item_id": "target"}`)
	noContent(t, do(t, "POST", apiURLs.action(srv, id, "keep-alive"), `{"client_progress": 50}`))
	item := srv + apiBase + "/" + id
	keepAlive := item + "?action=keep-alive"

	utf16Body := func(s string) string {
		var b strings.Builder
		b.WriteString("\xff\xfe")
		for _, u := range utf16.Encode([]rune(s)) {
			b.WriteByte(byte(u))
			b.WriteByte(byte(u >> 8))
		}
		return b.String()
	}
	cases := []struct {
		name              string
		method, url, body string
		header            []string
		wantStatus        int
		wantType          string
	}{
		{"GET on keep-alive", "GET", keepAlive, "", nil, 405, "INVALID_REQUEST"},
		{"PUT on a session", "PUT", item, "", nil, 405, "INVALID_REQUEST"},
		{"lower-case method", "post", keepAlive, "", nil, 405, "INVALID_REQUEST"},
		{"unknown action", "POST", item + "?action=explode", "", nil, 404, "OPERATION_NOT_FOUND"},
		{"empty action", "POST", item + "?action=", "", nil, 405, "INVALID_REQUEST"},
		{"action given twice", "POST", keepAlive + "&action=complete", "", nil, 400, "INVALID_REQUEST"},
		{"action on the collection", "POST", srv + apiBase + "?action=keep-alive", "", nil, 404, "OPERATION_NOT_FOUND"},
		{"malformed JSON", "POST", keepAlive, `{"client_progress": `, nil, 400, "INVALID_ARGUMENT"},
		{"trailing garbage", "POST", keepAlive, `{"client_progress": 60} x`, nil, 400, "INVALID_ARGUMENT"},
		{"progress as exponent", "POST", keepAlive, `{"client_progress": 1e2}`, nil, 400, "INVALID_ARGUMENT"},
		{"progress as hex", "POST", keepAlive, `{"client_progress": 0x40}`, nil, 400, "INVALID_ARGUMENT"},
		{"progress past int64", "POST", keepAlive, `{"client_progress": 9223372036854775808}`, nil, 400, "INVALID_ARGUMENT"},
		{"progress at int64 minimum", "POST", keepAlive, `{"client_progress": -9223372036854775808}`, nil, 400, "INVALID_ARGUMENT"},
		{"progress of a million", "POST", keepAlive, `{"client_progress": 1000000}`, nil, 400, "INVALID_ARGUMENT"},
		{"progress below the current one", "POST", keepAlive, `{"client_progress": 49}`, nil, 400, "INVALID_ARGUMENT"},
		{"progress as a boolean", "POST", keepAlive, `{"client_progress": true}`, nil, 400, "INVALID_ARGUMENT"},
		{"progress as a list", "POST", keepAlive, `{"client_progress": [60]}`, nil, 400, "INVALID_ARGUMENT"},
		{"progress as NaN", "POST", keepAlive, `{"client_progress": NaN}`, nil, 400, "INVALID_ARGUMENT"},
		{"body is a string", "POST", keepAlive, `"60"`, nil, 400, "INVALID_ARGUMENT"},
		{"unknown field", "POST", keepAlive, `{"client_progress": 60, "admin": true}`, nil, 400, "INVALID_ARGUMENT"},
		{"UTF-16 body", "POST", keepAlive, utf16Body(`{"client_progress": 60}`), nil, 400, "INVALID_ARGUMENT"},
		{"NUL bytes in the body", "POST", keepAlive, "{\"client_progress\": 6\x000}", nil, 400, "INVALID_ARGUMENT"},
		{"nesting 10,001 deep", "POST", keepAlive, strings.Repeat("[", 10001), nil, 400, "INVALID_ARGUMENT"},
		{"body of 1 MiB", "POST", keepAlive, `{"client_progress": 60, "pad": "` + strings.Repeat("x", 1<<20) + `"}`, nil, 413, "INVALID_REQUEST"},
		{"dot-dot in the path", "POST", srv + apiBase + "/../update-session/" + id + "?action=keep-alive", "", nil, 404, "OPERATION_NOT_FOUND"},
		{"double slash", "POST", srv + "/" + apiBase + "/" + id + "?action=keep-alive", "", nil, 404, "OPERATION_NOT_FOUND"},
		{"encoded slash in the id", "POST", srv + apiBase + "/" + id + "%2Fx?action=keep-alive", "", nil, 404, "OPERATION_NOT_FOUND"},
		{"NUL in the id", "POST", srv + apiBase + "/" + id + "%00?action=keep-alive", "", nil, 404, "NOT_FOUND"},
		{"id of 10,000 characters", "POST", srv + apiBase + "/" + strings.Repeat("a", 10000) + "?action=keep-alive", "", nil, 404, "NOT_FOUND"},
		{"id with a selector", "POST", srv + apiBase + "/" + id + ",status.state%3DDONE?action=keep-alive", "", nil, 404, "NOT_FOUND"},
		{"rest form with an empty id", "POST", srv + restBase + "/id:?~action=keep-alive", "", nil, 404, "OPERATION_NOT_FOUND"},
		{"rest form with a path after the id", "POST", srv + restBase + "/id:" + id + "/x?~action=keep-alive", "", nil, 404, "OPERATION_NOT_FOUND"},
		{"root path", "GET", srv + "/", "", nil, 404, "OPERATION_NOT_FOUND"},
		{"create with a 10,000-character item", "POST", srv + apiBase, `{"library_item_id": "` + strings.Repeat("i", 10000) + `"}`, nil, 400, "INVALID_ARGUMENT"},
		{"create in an invalid namespace", "POST", srv + apiBase + "?namespace=..%2Fkube-system", `{"library_item_id": "n"}`, nil, 400, "INVALID_ARGUMENT"},
		{"headers of 20 KiB", "POST", keepAlive, "", []string{"X-Padding", strings.Repeat("p", 20<<10)}, 431, "INVALID_REQUEST"},
		{"no credentials", "POST", keepAlive, "", []string{"Authorization", ""}, 401, "UNAUTHENTICATED"},
		{"basic auth", "POST", keepAlive, "", []string{"Authorization", "Basic YWRtaW46YWRtaW4="}, 401, "UNAUTHENTICATED"},
		{"bearer with two words", "POST", keepAlive, "", []string{"Authorization", "Bearer a b"}, 401, "UNAUTHENTICATED"},
		{"token of 12 KiB", "POST", keepAlive, "", []string{"Authorization", "Bearer " + strings.Repeat("t", 12<<10)}, 401, "UNAUTHENTICATED"},
		{"forged JWT", "POST", keepAlive, "", []string{"Authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."}, 401, "UNAUTHENTICATED"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d hostile requests", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, ns)
			refused(t, do(t, tc.method, tc.url, tc.body, tc.header...), tc.wantStatus, tc.wantType)
			if after := snapshot(t, ns); after != before {
				t.Fatalf("a refused request changed a session: %s -> %s", before, after)
			}
		})
	}
}

// TestSlowClientsAreCut checks the REST server's connection limits with real connections: a
// request whose headers stop coming is cut after 10 s, its connection closed, and a call whose
// body stops coming is answered INVALID_REQUEST after 10 s, while other clients are served.
func TestSlowClientsAreCut(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, 5*time.Minute)
	id := apiURLs.create(t, srv, `{"library_item_id": "slow"}`)
	u, err := url.Parse(apiURLs.action(srv, id, "keep-alive"))
	if err != nil {
		t.Fatal(err)
	}
	cutBefore := testutil.ToFloat64(metrics.ConnectionsClosed.WithLabelValues("request"))
	start := time.Now()
	slowHeaders := sendRaw(t, u.Host, "POST "+u.RequestURI()+" HTTP/1.1\r\nHost: x\r\n")
	slowBody := sendRaw(t, u.Host, "POST "+u.RequestURI()+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+
		tokens[srv]+"\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{\"client_progress\": ")
	for range 5 { // others are served meanwhile
		noContent(t, do(t, "POST", u.String(), ""))
	}

	const limit, slack = 10 * time.Second, 10 * time.Second
	_ = slowBody.SetReadDeadline(start.Add(limit + slack))
	resp, err := http.ReadResponse(bufio.NewReader(slowBody), nil)
	if err != nil {
		t.Fatalf("the call whose body stopped coming: %v", err)
	}
	_ = resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusBadRequest || took < limit-time.Second {
		t.Errorf("the call whose body stopped coming was answered %d after %v, want 400 after %v", resp.StatusCode, took, limit)
	}
	_ = slowHeaders.SetReadDeadline(start.Add(limit + slack))
	if n, err := io.Copy(io.Discard, slowHeaders); err != nil || n != 0 {
		t.Errorf("the request whose headers stopped coming got %d bytes and %v, want its connection closed", n, err)
	}
	if took := time.Since(start); took < limit-time.Second {
		t.Errorf("the request whose headers stopped coming was cut after %v, before %v", took, limit)
	}
	if cut := testutil.ToFloat64(metrics.ConnectionsClosed.WithLabelValues("request")) - cutBefore; cut < 1 {
		t.Errorf("updatesession_rest_connections_closed_total{phase=\"request\"} rose by %v, want at least 1", cut)
	}
}

// sendRaw opens a connection to addr and sends data on it.
func sendRaw(t *testing.T, addr, data string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatal(err)
	}
	return c
}
