package main

import (
	"bufio"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/contentlib/update-session-operator/internal/localcp"
)

// report is everything one run measured.
type report struct {
	machine  string
	loadFor  time.Duration
	sessions int
	load     []loadResult
	expiry   []expiryResult
}

func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := r.latencyChart(filepath.Join(dir, "bench-keepalive.png")); err != nil {
		return err
	}
	if err := r.expiryChart(filepath.Join(dir, "bench-expiry.png")); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "benchmarks.md"), []byte(r.markdown()), 0o644)
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Measured by `make bench` (hack/bench) on %s. It starts a local kube-apiserver %s and etcd,\n",
		time.Now().UTC().Format("2006-01-02"), localcp.KubernetesVersion)
	p("runs the real `bin/manager` against them with its default flags, and drives it over HTTP\n")
	p("with service-account tokens, from the same machine.\n\n")
	p("Machine: %s.\n\n", r.machine)
	p("## Keep-alive throughput and latency\n\n")
	p("%d sessions; each client keeps its own session alive in a loop (keep-alive, no body), as an\n", r.sessions)
	p("uploader does after each chunk, for %v.\n", r.loadFor)
	p("\"raw PATCH\" is what a client would do without the operator: a merge patch of\n")
	p("`status.lastActivity` straight to the API server, as admin. Writes/call counts the status\n")
	p("PATCH and PUT requests the API server served, per successful call.\n\n")
	p("| mode | clients | calls/s | p50 | p99 | failed | writes/call |\n|---|---|---|---|---|---|---|\n")
	for _, l := range r.load {
		p("| %s | %d | %.0f | %v | %v | %d | %.2f |\n", l.mode, l.concurrency, l.throughput(),
			l.p50.Round(time.Microsecond), l.p99.Round(time.Microsecond), l.failed, l.writesPerCall())
	}
	p("\n| clients | REST without coalescing / raw | REST with coalescing / raw |\n|---|---|---|\n")
	for _, c := range concurrencies {
		raw := r.find(modeRaw, c).throughput()
		p("| %d | %.2f× | %.2f× |\n", c, r.find("REST, no coalescing", c).throughput()/raw,
			r.find("REST, coalescing", c).throughput()/raw)
	}
	p("\n![keep-alive latency against concurrency](bench-keepalive.png)\n\n")
	p("## Expiry lateness\n\n")
	p("Sessions are created, then each kept alive once at a moment spread evenly over 10 s, so that\n")
	p("their expirationTimes spread over the same 10 s. Lateness is the time an informer saw the\n")
	p("deletion minus the expirationTime of the deleted object; early means below zero.\n\n")
	p("| sessions | window | p50 | p99 | max | deleted early | operator RSS with all sessions | peak RSS |\n")
	p("|---|---|---|---|---|---|---|---|\n")
	for _, e := range r.expiry {
		p("| %d | %v | %v | %v | %v | %d | %.0f MiB | %.0f MiB |\n", e.n, e.spread, percentile(e.lateness, .5).Round(time.Millisecond),
			percentile(e.lateness, .99).Round(time.Millisecond), e.lateness[len(e.lateness)-1].Round(time.Millisecond),
			e.early, e.rss, e.peakRSS)
	}
	p("\n![expiry lateness](bench-expiry.png)\n\n")
	p("## Reproduce\n\n```sh\nmake bench\n```\n\n")
	p("`make bench BENCH_ARGS='-load-duration=30s -expiry=1000,10000,20000'` changes the run; the\n")
	p("manager's log goes to a temporary folder that the run prints.\n")
	return b.String()
}

func (r *report) find(mode string, c int) loadResult {
	for _, l := range r.load {
		if l.mode == mode && l.concurrency == c {
			return l
		}
	}
	return loadResult{}
}

var palette = map[string]color.Color{
	"REST, no coalescing": color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"REST, coalescing":    color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	modeRaw:               color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

// latencyChart plots p50 (solid) and p99 (dashed) latency against concurrency for each mode.
func (r *report) latencyChart(path string) error {
	p := plot.New()
	p.Title.Text = "Keep-alive latency against concurrency"
	p.X.Label.Text = "concurrent clients (log scale)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 16, Label: "16"}, {Value: 64, Label: "64"}, {Value: 256, Label: "256"}})
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	for _, mode := range []string{"REST, no coalescing", "REST, coalescing", modeRaw} {
		for _, q := range []struct {
			name   string
			dashes []vg.Length
			value  func(loadResult) time.Duration
		}{{"p50", nil, func(l loadResult) time.Duration { return l.p50 }},
			{"p99", []vg.Length{vg.Points(4), vg.Points(3)}, func(l loadResult) time.Duration { return l.p99 }}} {
			var pts plotter.XYs
			for _, c := range concurrencies {
				if v := q.value(r.find(mode, c)); v > 0 {
					pts = append(pts, plotter.XY{X: float64(c), Y: float64(v) / float64(time.Millisecond)})
				}
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			line.Color, line.Dashes, points.Color = palette[mode], q.dashes, palette[mode]
			points.Shape = draw.CircleGlyph{}
			p.Add(line, points)
			p.Legend.Add(mode+" "+q.name, line)
		}
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// expiryChart plots the distribution of expiry lateness for each run, as a CDF.
func (r *report) expiryChart(path string) error {
	p := plot.New()
	p.Title.Text = "Expiry lateness: deletion time minus expirationTime"
	p.Legend.Left, p.Legend.Top = false, false
	p.X.Label.Text = "lateness (ms)"
	p.Y.Label.Text = "fraction of sessions deleted"
	colors := []color.Color{color.RGBA{B: 0xcc, A: 0xff}, color.RGBA{R: 0xcc, A: 0xff}, color.RGBA{G: 0x99, A: 0xff}}
	for i, e := range r.expiry {
		pts := make(plotter.XYs, len(e.lateness))
		for j, l := range e.lateness {
			pts[j] = plotter.XY{X: float64(l) / float64(time.Millisecond), Y: float64(j+1) / float64(len(e.lateness))}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = colors[i%len(colors)]
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%d sessions within %v", e.n, e.spread), line)
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
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
