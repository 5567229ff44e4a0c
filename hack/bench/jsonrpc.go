package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The JSON-RPC phase's loads.
const (
	modeJSONRPC = "JSON-RPC"
	modeAPIForm = "/api form"
)

// maxJSONRPCCPURatio is the target: a keep-alive over JSON-RPC costs the manager at most this
// much CPU of the same keep-alive over the /api form.
const maxJSONRPCCPURatio = 1.2

// jsonrpcConcurrencies are the clients of the JSON-RPC phase's loads.
var jsonrpcConcurrencies = []int{16, 64}

// jsonrpcFigures are the JSON-RPC keep-alive loads, each paired with the same keep-alives over
// the /api form.
type jsonrpcFigures struct {
	results []loadResult
}

// measureJSONRPC runs keep-alives as VMware's Python SDK sends them (vAPI JSON-RPC at POST /api)
// against one manager, paired with the same keep-alives over the /api form against the same
// manager: the two loads keep different halves of the sessions alive and take turns
// (measurePair), so that the ratio of the manager's CPU per call is the wire's own cost.
func (b *bench) measureJSONRPC(ctx context.Context, d time.Duration, sessions int) (*jsonrpcFigures, error) {
	ns, err := b.namespace(ctx, "jsonrpc")
	if err != nil {
		return nil, err
	}
	token, err := b.uploader(ctx, ns)
	if err != nil {
		return nil, err
	}
	step("keep-alive over JSON-RPC, each load paired with the same over the /api form")
	m, err := b.startManager()
	if err != nil {
		return nil, err
	}
	defer m.stop()
	_, ids, err := b.createSessions(ctx, ns, sessions)
	if err != nil {
		return nil, err
	}
	sessionID, err := logIn(b.http, m.restURL, token)
	if err != nil {
		return nil, err
	}
	half := len(ids) / 2
	f := &jsonrpcFigures{}
	for _, c := range jsonrpcConcurrencies {
		// Both sides coalesce, and each one's sessions age through the other's turn: each catches up.
		rpc := side{mode: modeJSONRPC, serverPID: m.cmd.Process.Pid, catchUp: coalescedCatchUp(),
			call:     rpcKeepAlive(b.http, m.restURL, sessionID, ids[:half]),
			profiles: b.profiles("jsonrpc", c, servedProfile("manager", m.pprofURL))}
		api := side{mode: modeAPIForm, serverPID: m.cmd.Process.Pid, catchUp: coalescedCatchUp(),
			call:     apiKeepAlive(b.http, m.restURL, sessionID, ids[half:]),
			profiles: b.profiles("api", c, servedProfile("manager", m.pprofURL))}
		res, anchor := b.measurePair(c, d, coalescedSlice(), rpc, api)
		f.results = append(f.results, withCosts(res, b.profilePath("jsonrpc", c, "manager")),
			withCosts(anchor, b.profilePath("api", c, "manager")))
	}
	return f, nil
}

// rpcKeepAlive returns a call that keeps ids[i] alive as VMware's Python SDK 2.44 does
// (UpdateSession.keep_alive without progress): its headers and body, byte for byte but the ids.
func rpcKeepAlive(httpClient *http.Client, base, sessionID string, ids []string) func(int) error {
	return func(i int) error {
		opID := fmt.Sprintf("712823a9-2325-47ac-a7c2-%012d", i)
		body := `{"jsonrpc":"2.0","method":"invoke","params":{"serviceId":"com.vmware.content.library.item.update_session",` +
			`"operationId":"keep_alive","input":{"STRUCTURE":{"operation-input":{"update_session_id":"` + ids[i%len(ids)] +
			`","client_progress":{"OPTIONAL":null}}}},"ctx":{"appCtx":{"opId":"` + opID + `"},"securityCtx":` +
			`{"schemeId":"com.vmware.vapi.std.security.session_id","sessionId":"` + sessionID + `"}}},"id":"` +
			fmt.Sprint(i) + `"}`
		req, err := http.NewRequest(http.MethodPost, base+"/api", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "vAPI/2.44.0 Python/3.11.2 (Linux; 6.1; x86_64)")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("vapi-service", "com.vmware.content.library.item.update_session")
		req.Header.Set("vapi-operation", "keep_alive")
		req.Header.Set("vapi-ctx-opid", opID)
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		answer, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		switch {
		case err != nil:
			return err
		case resp.StatusCode != http.StatusOK || !bytes.Contains(answer, []byte(`"result":{"output":null}`)):
			return fmt.Errorf("keep-alive answered %d %s", resp.StatusCode, answer)
		}
		return nil
	}
}

// apiKeepAlive returns a call that keeps ids[i] alive through the /api form, with the session
// id of a login in its header.
func apiKeepAlive(httpClient *http.Client, base, sessionID string, ids []string) func(int) error {
	return func(i int) error {
		status, err := postWithSession(httpClient,
			base+"/api/content/library/item/update-session/"+ids[i%len(ids)]+"?action=keep-alive", sessionID)
		if err == nil && status != http.StatusNoContent {
			err = fmt.Errorf("keep-alive answered %d", status)
		}
		return err
	}
}

// find returns the load of mode at c clients.
func (f *jsonrpcFigures) find(mode string, c int) loadResult {
	for _, r := range f.results {
		if r.mode == mode && r.concurrency == c {
			return r
		}
	}
	return loadResult{mode: mode, concurrency: c}
}

// cpuRatio is the manager's CPU per JSON-RPC keep-alive over its CPU per /api keep-alive.
func (f *jsonrpcFigures) cpuRatio(c int) float64 {
	rpc, api := f.find(modeJSONRPC, c).serverCPUPerCall(), f.find(modeAPIForm, c).serverCPUPerCall()
	if api == 0 {
		return 0
	}
	return float64(rpc) / float64(api)
}

// targets are the rows of the JSON-RPC loads, one per concurrency.
func (f *jsonrpcFigures) targets() []target {
	if f == nil {
		return nil
	}
	rows := make([]target, 0, len(jsonrpcConcurrencies))
	for _, c := range jsonrpcConcurrencies {
		rpc, api := f.find(modeJSONRPC, c), f.find(modeAPIForm, c)
		ratio := f.cpuRatio(c)
		rows = append(rows, target{
			name:     fmt.Sprintf("manager CPU per keep-alive over JSON-RPC <= %.1fx over /api, %d clients", maxJSONRPCCPURatio, c),
			measured: fmt.Sprintf("%.1f µs", rpc.serverCPUPerCall().Seconds()*1e6),
			anchor:   fmt.Sprintf("/api %.1f µs", api.serverCPUPerCall().Seconds()*1e6),
			ratio:    fmt.Sprintf("%.2fx", ratio), met: ratio > 0 && ratio <= maxJSONRPCCPURatio,
		})
	}
	return rows
}

// section describes the JSON-RPC loads and tables them.
func (f *jsonrpcFigures) section(p func(string, ...any)) {
	if f == nil {
		return
	}
	p("## Keep-alives over JSON-RPC\n\n")
	p("The keep-alive of VMware's Python SDK (vAPI JSON-RPC 2.0 at `POST /api`, its headers and body as\n")
	p("the SDK 2.44 sends them, a login's session id in the security context) against one manager, paired\n")
	p("with the same keep-alive over the `/api` form (no body, the session id in its header) against the\n")
	p("same manager, each load on its own half of the sessions, taking turns in slices as the keep-alive\n")
	p("loads above do. CPU is the manager's per successful call.\n\n")
	p("| wire | clients | calls/s | p50 | p99 | failed | manager CPU/call |\n|---|---|---|---|---|---|---|\n")
	for _, r := range f.results {
		p("| %s | %d | %.0f | %v | %v | %d | %.1f µs |\n", r.mode, r.concurrency, r.throughput(),
			r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.failed, r.serverCPUPerCall().Seconds()*1e6)
	}
	p("\nWhere the manager's CPU went per call, in µs, from its CPU profile during each load's slices:\n")
	p("reading the request (headers: the SDK sends nine, with its body's length), the handler (for\n")
	p("JSON-RPC: reading the body, the envelope and the typed input, encoding the answer), writing the\n")
	p("answer (a JSON-RPC answer has a body; an /api keep-alive's is a bodiless 204), garbage collection.\n\n")
	p("| wire | clients | read | handler | write | GC | other |\n|---|---|---|---|---|---|---|\n")
	us := func(d time.Duration) float64 { return d.Seconds() * 1e6 }
	for _, r := range f.results {
		if c := r.costs; c != nil {
			p("| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", r.mode, r.concurrency,
				us(c.read), us(c.handler), us(c.write), us(c.gc), us(c.other))
		}
	}
	p("\n")
}
