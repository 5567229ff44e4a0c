package rest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// sdkKeepAlive is a keep-alive as VMware's Python SDK 2.44 sends it (hack/bench/jsonrpc.go
// sends the same): its headers and body, byte for byte but the ids.
const sdkKeepAlive = `{"jsonrpc":"2.0","method":"invoke","params":{"serviceId":"com.vmware.content.library.item.update_session",` +
	`"operationId":"keep_alive","input":{"STRUCTURE":{"operation-input":{"update_session_id":"` +
	`0f6f1a52-6f0e-4f0c-9d3e-3c1b8f7e2a41","client_progress":{"OPTIONAL":null}}}},"ctx":{"appCtx":` +
	`{"opId":"712823a9-2325-47ac-a7c2-000000000017"},"securityCtx":{"schemeId":"com.vmware.vapi.std.security.session_id",` +
	`"sessionId":"0123456789abcdef0123456789abcdef"}}},"id":"17"}`

// sdkHeaders are the headers the SDK sends with it, besides Content-Length and Host.
var sdkHeaders = [][2]string{
	{"User-Agent", "vAPI/2.44.0 Python/3.11.2 (Linux; 6.1; x86_64)"},
	{"Accept-Encoding", "gzip, deflate"},
	{"Accept", "*/*"},
	{"Connection", "keep-alive"},
	{"Content-Type", "application/json"},
	{"vapi-service", "com.vmware.content.library.item.update_session"},
	{"vapi-operation", "keep_alive"},
	{"vapi-ctx-opid", "712823a9-2325-47ac-a7c2-000000000017"},
}

// discardWriter is an http.ResponseWriter that keeps nothing, so that a benchmark counts the
// handler's own work and allocations rather than a recorder's.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(status int) {
	w.status = status
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

// BenchmarkRPCKeepAliveWire measures what the JSON-RPC wire itself costs a keep-alive of the
// Python SDK: the steps of serveJSONRPC that the /api form does not take (reading the body,
// the envelope, the credentials of the security context, the operation, the typed input, the
// handler's input, the typed output and the answer), without those both wires share
// (authentication, finding and authorizing the session, the handler), which need an API
// server. make bench measures the whole call against a manager.
func BenchmarkRPCKeepAliveWire(b *testing.B) {
	body := []byte(sdkKeepAlive)
	reader := bytes.NewReader(body)
	r := httptest.NewRequest(http.MethodPost, jsonrpcPath, io.NopCloser(reader))
	for _, h := range sdkHeaders {
		r.Header.Set(h[0], h[1])
	}
	r.ContentLength = int64(len(body))
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		reader.Reset(body)
		clear(w.header)
		keepAliveWire(b, w, r)
	}
	if w.status != http.StatusOK || w.n == 0 {
		b.Fatalf("answered %d with %d bytes", w.status, w.n)
	}
}

// keepAliveWire takes r through the wire's steps of serveJSONRPC, in its order.
func keepAliveWire(b *testing.B, w http.ResponseWriter, r *http.Request) {
	var req rpcRequest
	defer req.release()
	if rerr := readRPCRequest(w, r, &req); rerr != nil {
		b.Fatalf("refused: %+v", rerr)
	}
	cred, err := rpcCredentials(r, &req.params.securityCtx)
	if err != nil {
		b.Fatal(err)
	}
	rop, err := lookupRPCOperation(req.params.serviceID, req.params.operationID)
	if err != nil {
		b.Fatal(err)
	}
	c := call{token: cred.Token}
	if id, err := rop.unpack(&c, req.params.input); err != nil || id == "" {
		b.Fatalf("unpacked %q, %v", id, err)
	}
	var in keepAliveInput
	if err := decodeOptional(c.body, &in); err != nil {
		b.Fatal(err)
	}
	output, err := encodeOutput(rop, nil)
	if err != nil {
		b.Fatal(err)
	}
	writeRPCResult(w, req.id, "output", output)
}
