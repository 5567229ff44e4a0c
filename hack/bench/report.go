package main

import (
	"bufio"
	"fmt"
	"image/color"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/localcp"
	"github.com/contentlib/update-session-operator/internal/session"
)

// report is everything one run measured.
type report struct {
	machine string
	opts    options
	took    time.Duration
	load    []loadResult
	floods  []floodResult
	scale   scaleResult
	// rawDeleteAfter is the raw-DELETE anchor measured right after the burst (see scaleResult).
	rawDeleteAfter rawDeleteResult
	quiet          expiryResult
	uploads        *uploadFigures
	downloads      *downloadFigures
	jsonrpc        *jsonrpcFigures
}

// write writes benchmarks.md and its charts into dir, and the targets table to stderr.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := r.keepAliveChart(filepath.Join(dir, "bench-keepalive.png")); err != nil {
		return err
	}
	if err := r.burstChart(filepath.Join(dir, "bench-expiry.png")); err != nil {
		return err
	}
	path := filepath.Join(dir, "benchmarks.md")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	fmt.Fprint(os.Stderr, r.targets())
	return os.WriteFile(path, []byte(withHistory(r.markdown(), string(old))), 0o644)
}

// historyHeading starts the part of benchmarks.md that people write: what earlier runs
// measured, which a new run keeps.
const historyHeading = "## History\n"

// withHistory is the report md followed by the history section of the benchmarks.md it
// replaces, old, if that has one: a run rewrites its own figures, never the record of the runs
// before it.
func withHistory(md, old string) string {
	i := strings.Index(old, "\n"+historyHeading)
	if i < 0 {
		return md
	}
	return md + old[i:]
}

// target is one row of the targets table.
type target struct {
	name, measured, anchor string
	ratio                  string
	met                    bool
}

// yes is a target's "met" cell: a target missed stands out in bold.
func yes(met bool) string {
	if met {
		return "yes"
	}
	return "**no**"
}

// targets is the table of the targets: each measured figure, its anchor and whether it is met.
func (r *report) targets() string {
	rows := make([]target, 0, 1+len(concurrencies)+2+len(concurrencies)+2+2*len(r.floods)) // the rows below
	e := r.expiryFigures()
	rows = append(rows, target{
		name:     fmt.Sprintf("expiry throughput >= %.1fx min(raw DELETE, arrival)", minExpiryRatio),
		measured: fmt.Sprintf("%.0f/s (%d sessions)", e.rate, r.scale.burst.n),
		anchor: fmt.Sprintf("raw DELETE %.0f/s (before %.0f/s, after %.0f/s), arrival %.0f/s", e.rawDelete,
			r.scale.rawDeleteBefore.rate(), r.rawDeleteAfter.rate(), e.arrival),
		ratio: fmt.Sprintf("%.2fx", e.ratio), met: e.met,
	})
	rows = append(rows, r.pairTargets("coalesced", modeCoalesced, "vcsim", modeVcsim, minCoalescedRatio)...)
	s := r.scale
	rows = append(rows,
		target{name: fmt.Sprintf("API-server writes per keep-alive, %d sessions", s.n),
			measured: fmt.Sprintf("%.3f", s.writesPerKeepAlive()), anchor: fmt.Sprintf("<= %.1f", maxWritesPerKeepAlive),
			ratio: "-", met: s.writesMet()},
		target{name: fmt.Sprintf("other API-server requests per keep-alive, %d sessions", s.n),
			measured: fmt.Sprintf("%.4f", s.otherPerKeepAlive()), anchor: fmt.Sprintf("<= %.2f", maxOtherPerKeepAlive),
			ratio: "-", met: s.otherMet()})
	rows = append(rows, r.pairTargets("uncoalesced", modeUncoalesced, "raw PATCH", modeRaw, minUncoalescedRatio)...)
	early := r.earlyDeletions()
	rows = append(rows,
		target{name: "sessions deleted early, every phase", measured: fmt.Sprint(early), anchor: "0", ratio: "-", met: early == 0},
		target{name: fmt.Sprintf("operator RSS with %d sessions", s.n), measured: fmt.Sprintf("%.0f MiB", s.rss),
			anchor: fmt.Sprintf("<= %.0f MiB", maxRSSMiB), ratio: "-", met: s.rssMet()})
	for _, f := range r.floods {
		rows = append(rows, f.targets()...)
	}
	rows = append(rows, r.uploads.targets()...)
	rows = append(rows, r.downloads.targets()...)
	rows = append(rows, r.jsonrpc.targets()...)
	var b strings.Builder
	b.WriteString("| target | measured | anchor | ratio | met |\n|---|---|---|---|---|\n")
	for _, t := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", t.name, t.measured, t.anchor, t.ratio, yes(t.met))
	}
	return b.String()
}

// pairTargets are the rows of the loads of mode, one per concurrency, each against the same
// load of its anchor's mode: met at minRatio of the anchor's rate.
func (r *report) pairTargets(name, mode, anchorName, anchorMode string, minRatio float64) []target {
	rows := make([]target, 0, len(concurrencies))
	for _, c := range concurrencies {
		op, anchor := r.find(mode, c), r.find(anchorMode, c)
		rows = append(rows, target{
			name:     fmt.Sprintf("%s keep-alive >= %.1fx %s, %d clients", name, minRatio, anchorName, c),
			measured: fmt.Sprintf("%.0f/s", op.throughput()), anchor: fmt.Sprintf("%s %.0f/s", anchorName, anchor.throughput()),
			ratio: ratioOf(op, anchor).String(), met: atLeast(op, anchor, minRatio),
		})
	}
	return rows
}

// markdown is benchmarks.md: how the run was made, the targets, and each phase's section.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Measured by `make bench` (hack/bench) on %s, in %v. It starts a local kube-apiserver %s and\n",
		time.Now().UTC().Format("2006-01-02"), r.took.Round(time.Second), localcp.KubernetesVersion)
	p("etcd, runs the real `bin/manager` against them with its default flags (but no coalescing where a\n")
	p("row says so), and drives it over HTTP with service-account tokens, from the same machine.\n")
	p("Every figure below comes from this one run.\n\n")
	p("Machine: %s.\n\n", r.machine)
	p("## Targets\n\n%s\n", r.targets())
	p("A keep-alive ratio compares two loads that took turns in slices (see below); \"rounds\" is the\n")
	p("range of the same ratio over each round of one slice of each: how far it moved within this run.\n\n")
	r.loadSection(p)
	r.jsonrpc.section(p)
	r.floodSection(p)
	r.scaleSection(p)
	r.uploads.section(p)
	r.downloads.section(p)
	p("## Reproduce\n\n```sh\nmake bench\n```\n\n")
	p("`make bench BENCH_ARGS='-load-duration=30s -scale=20000'` changes the run (`make bench BENCH_ARGS=-h`\n")
	p("lists the flags); the manager's log goes to a temporary folder that the run prints.\n")
	p("`make bench BENCH_ARGS=-phases=calibrate` pairs vcsim with a second vcsim as the coalesced loads\n")
	p("pair the operator with it: two identical servers, so their ratio's distance from 1.0x is the\n")
	p("pairing's own error on the machine, to hold a run's coalesced ratios against.\n")
	return b.String()
}

// loadSection describes the keep-alive loads and tables each one, with what their calls cost.
func (r *report) loadSection(p func(string, ...any)) {
	p("## Keep-alive throughput and latency\n\n")
	p("%d sessions; each client keeps its own session alive in a loop (keep-alive, no body), as an\n", r.opts.sessions)
	p("uploader does after each chunk, for at least %v, through the `/rest` form, as govmomi does\n", r.opts.loadFor)
	p("it: with the session id of a login in the `vmware-api-session-id` header (the operator's login\n")
	p("took a service-account token). \"vcsim\" is govmomi v0.56.0's simulator, run as a process of its\n")
	p("own over plain HTTP like the operator, with the same load generator, clients and sessions: it\n")
	p("keeps sessions in memory and persists nothing. \"raw PATCH\" is what a client would do without the\n")
	p("operator: a merge patch of `status.lastActivity` straight to the API server, as admin, of other\n")
	p("sessions than the operator's loads keep alive (half of the %d each). \"REST, coalescing\" is the\n", r.opts.sessions)
	p("manager's default: a keep-alive within the window (1%% of the timeout, at most %v; %v for these\n",
		session.DefaultMaxCoalesce, coalesceWindow())
	p("sessions, whose timeout is %v) is answered without a write, and the refresher writes each\n",
		time.Duration(sessionTimeoutSeconds)*time.Second)
	p("session kept alive in batches, %v before its window ends, so each client's session costs a\n", session.RefreshLead)
	p("write per window less that; \"no coalescing\" writes every keep-alive (`--keepalive-coalesce-window=0`). Each\n")
	p("load of the operator is paired with the same load of its anchor (uncoalesced: raw PATCH;\n")
	p("coalesced: vcsim). After %v of each, unmeasured (connections open, caches warm), the two take\n", warmUp)
	p("turns in slices, operator, anchor, anchor, operator and so on, until each has run %v and\n", r.opts.loadFor)
	p("at least two slices: so that a ratio compares loads seconds apart, and a drift of the machine's\n")
	p("speed weighs on both alike. Each figure adds up its own side's slices. A slice is %v, but\n", sliceLength)
	p("%v where the operator coalesces: the interval at which it writes a session kept alive, its\n", coalescedSlice())
	p("window less the refresher's lead: one write per session per slice, as when it runs alone (the\n")
	p("writes/s these slices give). Each of its turns first runs %v unmeasured: its sessions aged\n", coalescedCatchUp())
	p("through the anchor's turn, past two windows, so their first keep-alives all write at once,\n")
	p("each client waiting for its own write, which clients keeping alive without pause never meet\n")
	p("(the refresher writes their sessions ahead, and a keep-alive past a window leaves its write to\n")
	p("it). The slice then holds what they do meet: the refresher's batch writing every session once,\n")
	p("and keep-alives answered without a wait. (vcsim A's turns in `-phases=calibrate` run the same.)\n")
	p("Writes counts the status PATCH and PUT requests the API server served, per successful call and\n")
	p("per second of the load.\n")
	p("CPU is each process's user and system time over those slices (/proc): the server's per call (the\n")
	p("operator's manager or vcsim: the cost of the hot path itself), and the control plane's\n")
	p("(kube-apiserver and etcd) and the load generator's in cores. All of them share the machine's\n")
	p("%d cores, so a server's rate falls by whatever the others take.\n\n", runtime.NumCPU())
	p("| mode | clients | calls/s | p50 | p99 | failed | writes/call | writes/s | server CPU/call | control plane cores |" +
		" load generator cores |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.load {
		serverCPU := "-"
		if l.mode != modeRaw {
			serverCPU = fmt.Sprintf("%.0f µs", l.serverCPUPerCall().Seconds()*1e6)
		}
		p("| %s | %d | %.0f | %v | %v | %d | %.3f | %.1f | %s | %.2f | %.2f |\n", l.mode, l.concurrency, l.throughput(),
			l.p50.Round(time.Microsecond), l.p99.Round(time.Microsecond), l.failed, l.writesPerCall(), l.writeRate(),
			serverCPU, l.cores(l.cpu.controlPlane), l.cores(l.cpu.load))
	}
	p("\n![keep-alive rate against concurrency](bench-keepalive.png)\n\n")
	r.costsSection(p)
	r.persistenceSection(p)
}

// persistenceSection shows what the coalescing operator's writes cost the control plane beyond
// what it spends while vcsim runs: CPU that the load generator and the server no longer have.
func (r *report) persistenceSection(p func(string, ...any)) {
	p("What persisting costs: the control plane's cores during the operator's coalesced slices\n")
	p("less those during vcsim's, and that per status write the operator made.\n\n")
	p("| clients | writes/s | control plane cores above vcsim's | per write | share of the %d cores |\n", runtime.NumCPU())
	p("|---|---|---|---|---|\n")
	for _, c := range concurrencies {
		k, ok := persistence(r.find(modeCoalesced, c), r.find(modeVcsim, c), runtime.NumCPU())
		if !ok {
			continue
		}
		p("| %d | %.1f | %.2f | %.1f ms | %.0f%% |\n", c, k.writeRate, k.extraCores, k.perWrite*1e3, k.share*100)
	}
	p("\n")
}

// costsSection shows where the server's CPU went per coalesced call, the operator's against
// vcsim's, from their CPU profiles.
func (r *report) costsSection(p func(string, ...any)) {
	p("Where the server's CPU went per coalesced call, in µs, from each load's CPU profile of the\n")
	p("server (over the first %v of each of its slices) divided by the calls made meanwhile:\n",
		coalescedSlice().Truncate(time.Second))
	p("reading the request (Go's HTTP server: the request line and headers, among them the session\n")
	p("id: 32 characters for the operator, 36 for vcsim), the handler, writing the answer, garbage\n")
	p("collection, and the rest (the Go scheduler; for the operator also its informer, its reconciler\n")
	p("and the API-server writes the window needs).\n\n")
	p("| server | clients | read request | handler | write answer | GC | rest | total |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	us := func(d time.Duration) string { return fmt.Sprintf("%.1f", d.Seconds()*1e6) }
	for _, mode := range []string{modeCoalesced, modeVcsim} {
		for _, c := range concurrencies {
			l := r.find(mode, c)
			if l.costs == nil {
				continue
			}
			k := l.costs
			p("| %s | %d | %s | %s | %s | %s | %s | %s |\n", mode, c, us(k.read), us(k.handler), us(k.write),
				us(k.gc), us(k.other), us(k.total()))
		}
	}
	p("\n")
}

// floodSection describes the floods and tables what the legitimate clients met and how the
// attack requests were answered.
func (r *report) floodSection(p func(string, ...any)) {
	if len(r.floods) == 0 {
		return
	}
	p("## Floods\n\n")
	outlasts := "longer"
	if r.opts.floodFor <= auth.TokenCacheTTL {
		outlasts = "not longer"
	}
	p("Each flood runs for %v against a manager just started: %s than the operator keeps an accepted\n",
		r.opts.floodFor, outlasts)
	p("token (%v). %d goroutines send attack requests as fast as they can, from one\n", auth.TokenCacheTTL, floodFlooders)
	p("source address (a pod), while %d legitimate clients, a service account and a source address\n", floodClients)
	p("each, keep their own session alive every %v through the `/api` form with a token from the\n", clientPeriod)
	p("TokenRequest API. The server has never seen these tokens: each client makes its first call\n")
	p("after the flood began, the last %v into it. Each session's timeout is %d s, so that a run\n", clientStagger,
		floodSessionTimeout)
	p("of refusals longer than that deletes it (\"lost\").\n\n")
	p("- Token flood: keep-alives with garbage bearer tokens, in turn a random opaque one and a JWT\n")
	p("  forged with the cluster's service-account issuer and audience, a future expiry, a random key\n")
	p("  id, signed by a key the cluster does not know; each token fresh.\n")
	p("- Namespace flood: a service account with no rights on sessions lists, or creates, naming a\n")
	p("  new namespace each time (`?namespace=`), each an authorization question never asked before.\n\n")
	p("Legitimate clients: a keep-alive fails when answered anything but 204; the latencies are of\n")
	p("every keep-alive, failed or not.\n\n")
	p("| flood | keep-alives | failed | sessions lost | p50 | p99 |\n|---|---|---|---|---|---|\n")
	for _, f := range r.floods {
		p("| %s | %d | %d | %d of %d | %v | %v |\n", f.name, f.legit.sent, f.legit.failed, f.legit.lost, f.clients,
			f.legit.p50.Round(time.Microsecond), f.legit.p99.Round(time.Microsecond))
	}
	p("\nAttack requests, how they were answered (other: any other status, or none), and the reviews\n")
	p("the API server served during the flood per attack request (the legitimate clients' own among\n")
	p("them):\n\n")
	p("| flood | attack request | sent | 401 | 403 | 503 | other | reviews per attack request |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, f := range r.floods {
		for _, a := range f.attacks {
			p("| %s | %s | %d | %d | %d | %d | %d | |\n", f.name, a.kind, a.sent, a.answers[http.StatusUnauthorized],
				a.answers[http.StatusForbidden], a.answers[http.StatusServiceUnavailable], a.other())
		}
		p("| %s | all | %d | | | | | %.4f %s (%.0f) |\n", f.name, f.attacksSent(), f.reviewsPerAttack(),
			reviewName(f.reviewResource), f.reviews)
	}
	p("\n")
}

// scaleSection describes the scale phase and tables its expiry runs and what their deletions
// cost.
func (r *report) scaleSection(p func(string, ...any)) {
	s := r.scale
	p("## %d sessions: requests per keep-alive, memory, an expiry burst\n\n", s.n)
	p("%d sessions are created, then kept alive every %v each, by one service account, for %d rounds\n",
		s.n, keepAlivePeriod, keepAliveRounds)
	p("after a first round that warms the caches. The API server's own `apiserver_request_total` counts\n")
	p("the writes (status PATCH/PUT) and the other requests (TokenReviews, SubjectAccessReviews, GETs and\n")
	p("LISTs of sessions) it served meanwhile: %.0f writes and %.0f other requests (%s) for %d keep-alives\n",
		s.writes, s.other, s.otherSummary(), s.keepAlives)
	p("(%d failed). The operator's resident memory then: %.0f MiB (%s).\n\n", s.failed, s.rss, s.memory())
	p("Then every session's timeout is set so that they all expire within %v, and the operator\n", s.burst.spread)
	p("deletes them. The raw-DELETE anchor: %d other sessions deleted with plain DELETEs by 64\n",
		r.rawDeleteAfter.n)
	p("workers, with the operator running, right before the burst (in %v, %.0f/s) and again right\n",
		r.scale.rawDeleteBefore.took.Round(time.Millisecond), r.scale.rawDeleteBefore.rate())
	p("after it (in %v, %.0f/s); the anchor is their mean, %.0f/s, so that a drift of the machine's\n",
		r.rawDeleteAfter.took.Round(time.Millisecond), r.rawDeleteAfter.rate(), r.rawDeleteRate())
	p("speed weighs on the burst and its anchor alike. The manager and the API server are CPU-profiled\n")
	p("over the first %v of each of the three, from its first deletion or deadline (the profiles stay\n",
		deletionProfileFor)
	p("in the run's temporary folder), so that what a deletion costs compares raw and by the operator.\n")
	p("The quiet run: %d sessions expiring within\n", r.quiet.n)
	p("%v. Lateness is the time a watch saw the deletion minus the session's expirationTime; it\n", r.quiet.spread)
	p("includes `--expiry-safety-margin` (250 ms by default). Events: while the reconciler keeps up,\n")
	p("each expiry records its own `Expired` event; once it is more than 1 s behind its deadlines, the\n")
	p("events of a namespace are folded into one `ExpiredBurst` event per 10 s.\n\n")
	p("| run | sessions | due at | deleted at | p50 late | p99 late | max late | early | events |\n")
	p("|---|---|---|---|---|---|---|---|---|\n")
	for _, e := range []struct {
		name string
		res  expiryResult
	}{{"burst", s.burst}, {"quiet", r.quiet}} {
		l := e.res.lateness
		p("| %s | %d | %.0f/s | %.0f/s | %v | %v | %v | %d | %s |\n", e.name, e.res.n, e.res.arrivalRate(), e.res.rate(),
			percentile(l, .5).Round(time.Millisecond), percentile(l, .99).Round(time.Millisecond),
			l[len(l)-1].Round(time.Millisecond), e.res.early, eventSummary(e.res.events))
	}
	r.deletionCosts(p)
	p("\n![sessions due and deleted over the burst](bench-expiry.png)\n\n")
}

// deletionCosts tables what the deletions of the burst and of its raw-DELETE anchors cost the
// API server and the manager, from their CPU profiles: whether a burst slower than its anchor
// paid more per deletion, or ran on a machine that was slower for the plain DELETEs too.
func (r *report) deletionCosts(p func(string, ...any)) {
	before, burst, after := r.scale.rawDeleteBefore.cost, r.scale.burst.cost, r.rawDeleteAfter.cost
	p("\nWhat the deletions cost, over the first %v of each (from its first deletion or deadline), from\n",
		deletionProfileFor)
	p("the CPU profiles: the API server's CPU per deletion seen within that time, and the cores each\n")
	p("process took. The manager receives every deletion's watch event in all three; only in the\n")
	p("burst does it also decide and send the deletions.\n\n")
	p("| window | deletions | API server cores | API server CPU per deletion | manager cores |\n")
	p("|---|---|---|---|---|\n")
	for _, w := range []struct {
		name string
		cost deletionCost
	}{{"raw DELETE before", before}, {"burst", burst}, {"raw DELETE after", after}} {
		c := w.cost
		p("| %s | %d | %.2f | %v | %.2f |\n", w.name, c.deletions, c.cores(c.apiServer),
			c.perDeletion().Round(10*time.Microsecond), c.cores(c.manager))
	}
	w, ok := r.burstAtRawCost()
	if !ok {
		return
	}
	p("\nAt the plain DELETEs' mean CPU per deletion (%v), the API server's cores in the burst would\n",
		w.raw.Round(10*time.Microsecond))
	p("have deleted %.0f/s, %.2fx the anchor.\n", w.rate, w.ratio)
}

// eventSummary is "362 Expired, 3 ExpiredBurst": the events recorded, by reason, in order.
func eventSummary(counts map[string]int) string {
	var parts []string
	for _, reason := range slices.Sorted(maps.Keys(counts)) {
		if counts[reason] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[reason], reason))
		}
	}
	return strings.Join(parts, ", ")
}

// String is the ratio, such as "0.84x (rounds 0.80-0.88)" with the range of its rounds.
func (q pairRatio) String() string {
	if !q.rounds {
		return fmt.Sprintf("%.2fx", q.ratio)
	}
	return fmt.Sprintf("%.2fx (rounds %.2f-%.2f)", q.ratio, q.lo, q.hi)
}

// palette gives each load mode one colour in every chart.
var palette = map[string]color.Color{
	modeUncoalesced: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	modeCoalesced:   color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	modeVcsim:       color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	modeRaw:         color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

// keepAliveChart plots each mode's keep-alive rate against concurrency.
func (r *report) keepAliveChart(path string) error {
	p := plot.New()
	p.Title.Text = "Keep-alives per second against concurrency"
	p.X.Label.Text = "concurrent clients (log scale)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 16, Label: "16"}, {Value: 64, Label: "64"}, {Value: 256, Label: "256"}})
	p.Y.Label.Text = "keep-alives/s (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	// The legend goes in the empty band between the uncoalesced rates (hundreds a second) and
	// the coalesced ones (thousands): in a corner it hid points and their lines.
	p.Legend.Top, p.Legend.Left, p.Legend.YOffs = false, true, 1.4*vg.Inch
	for _, mode := range []string{modeCoalesced, modeVcsim, modeUncoalesced, modeRaw} {
		var pts plotter.XYs
		for _, c := range concurrencies {
			if v := r.find(mode, c).throughput(); v > 0 {
				pts = append(pts, plotter.XY{X: float64(c), Y: v})
			}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color, points.Color, points.Shape = palette[mode], palette[mode], draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(mode, line)
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// burstChart plots, over the burst, how many sessions had come due, how many were deleted, and
// how many the raw DELETE rate could have deleted by then (each no earlier than it came due).
func (r *report) burstChart(path string) error {
	ds := r.scale.burst.deletions
	if len(ds) == 0 {
		return nil
	}
	t0 := ds[0].expired
	secs := func(t time.Time) float64 { return t.Sub(t0).Seconds() }
	due, ideal := make(plotter.XYs, len(ds)), make(plotter.XYs, len(ds))
	deleted := make([]float64, len(ds))
	var prev time.Time
	for i, d := range ds {
		due[i] = plotter.XY{X: secs(d.expired), Y: float64(i + 1)}
		at := d.expired
		if i > 0 {
			at = latest(d.expired, prev.Add(time.Duration(float64(time.Second)/r.rawDeleteRate())))
		}
		prev = at
		ideal[i] = plotter.XY{X: secs(at), Y: float64(i + 1)}
		deleted[i] = secs(d.deleted)
	}
	slices.Sort(deleted)
	gone := make(plotter.XYs, len(deleted))
	for i, x := range deleted {
		gone[i] = plotter.XY{X: x, Y: float64(i + 1)}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Expiry burst: %d sessions due within %v", len(ds), r.scale.burst.spread)
	p.X.Label.Text = "seconds since the first expirationTime"
	p.Y.Label.Text = "sessions"
	p.Legend.Top, p.Legend.Left = true, true
	for _, s := range []struct {
		name  string
		pts   plotter.XYs
		color color.Color
	}{{"due (expirationTime passed)", due, color.Gray{Y: 0x80}},
		{fmt.Sprintf("raw-DELETE ideal (%.0f/s)", r.rawDeleteRate()), ideal, palette[modeRaw]},
		{"deleted by the operator", gone, palette[modeCoalesced]}} {
		line, err := plotter.NewLine(s.pts)
		if err != nil {
			return err
		}
		line.Color = s.color
		p.Add(line)
		p.Legend.Add(s.name, line)
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// latest is the later of a and b.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// describeMachine says what the numbers were measured on.
func describeMachine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %f kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB RAM", kb/1024/1024)
		}
	}
	return fmt.Sprintf("%d × %s%s, %s/%s, %s; the control plane, the operator and the load generator share it",
		runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
