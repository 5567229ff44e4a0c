package main

import (
	"github.com/contentlib/update-session-operator/internal/session"

	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// side is one of the two loads that a ratio compares.
type side struct {
	mode string
	// serverPID is the process that serves the calls; 0: the API server itself (raw PATCH).
	serverPID int
	call      func(i int) error
	// profiles records the CPU profiles of the processes the load keeps busy.
	profiles *profiler
	// catchUp is how long each of the side's turns runs unmeasured before its slice (see
	// coalescedCatchUp).
	catchUp time.Duration
}

// sliceLength is how long one side of a pair runs before the other takes its turn, unless the
// pair needs longer slices (see coalescedSlice).
const sliceLength = 2500 * time.Millisecond

// coalescedSlice is the slice of a pair whose operator side coalesces: the interval at which
// the operator writes a session kept alive without pause, its window less session.RefreshLead
// (the refresher writes it then, see package refresh), so that a slice holds one write per
// session, as the operator pays running alone.
func coalescedSlice() time.Duration { return max(sliceLength, coalesceWindow()-session.RefreshLead) }

// coalescedCatchUp is how long each turn of a coalescing operator runs unmeasured before its
// slice. Its sessions aged through the anchor's turn, past two windows, so their first
// keep-alives all write at once, each client waiting for its own write: a stall that clients
// keeping alive without pause never meet, since the refresher writes their sessions ahead and
// keep-alives past a window leave their write to it. Half a slice later those writes have
// landed, and the slice that follows holds what such clients do meet: one refresh of every
// session, about an interval after those writes, and keep-alives answered without a wait.
func coalescedCatchUp() time.Duration { return coalescedSlice() / 2 }

// measurePair runs two loads at c clients for about d each, taking turns: after a warm-up of
// each, slices of length slice in the order x y y x x y y x ..., at least x y y x. The ratio
// of the two then compares loads at most a slice apart, and a drift of the machine's speed over
// the pair (the API server's background work, the host's other tenants) weighs on both sides
// alike instead of on whichever ran second. Each side counts the status writes the API server
// served and the CPU time each process used during its own slices only.
func (b *bench) measurePair(c int, d, slice time.Duration, x, y side) (loadResult, loadResult) {
	sides := [2]side{x, y}
	results := [2]loadResult{{mode: x.mode, concurrency: c}, {mode: y.mode, concurrency: c}}
	for _, s := range sides {
		runSlice(c, warmUp, s.call)
	}
	rounds := max(2, int(d/slice))
	for r := range rounds {
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, i := range order {
			results[i].add(b.measureSlice(c, slice, sides[i]))
		}
		fmt.Fprintf(os.Stderr, "    c=%d, round %d of %d: %s %d ok, %s %d ok so far\n",
			c, r+1, rounds, x.mode, results[0].ok, y.mode, results[1].ok)
	}
	for i := range results {
		results[i].finish()
		sides[i].profiles.merge()
		printLoad(results[i])
	}
	return results[0], results[1]
}

// measureSlice runs one slice of length d of a side's load, after its catch-up, profiling its
// processes meanwhile. The API server's request count is read outside the CPU window, so that
// reading it costs the slice nothing.
func (b *bench) measureSlice(c int, d time.Duration, s side) loadResult {
	if s.catchUp > 0 {
		runSlice(c, s.catchUp, s.call)
	}
	writes := b.apiRequests(isStatusWrite)
	cpu := cpuNow(s.serverPID)
	recorded := s.profiles.record(d)
	res := runSlice(c, d, s.call)
	recorded()
	res.cpu = cpuNow(s.serverPID).sub(cpu)
	res.writes = b.apiRequests(isStatusWrite) - writes
	return res
}

func printLoad(res loadResult) {
	fmt.Fprintf(os.Stderr, "  %-20s c=%-3d %8.0f/s  p50 %-9v p99 %-9v failed %d  writes %.3f/call %.1f/s  "+
		"CPU: server %.0fµs/call, control plane %.2f cores, load generator %.2f cores\n",
		res.mode, res.concurrency, res.throughput(), res.p50.Round(time.Microsecond), res.p99.Round(time.Microsecond),
		res.failed, res.writesPerCall(), res.writeRate(), res.serverCPUPerCall().Seconds()*1e6, res.cores(res.cpu.controlPlane),
		res.cores(res.cpu.load))
}

// withCosts adds to a coalesced load, or vcsim's, where its server's CPU went per call, from
// the server's CPU profile at path.
func withCosts(res loadResult, path string) loadResult {
	costs, err := profileCosts(path, res.throughput())
	if err != nil {
		fmt.Fprintln(os.Stderr, "    CPU per call by part:", err)
		return res
	}
	res.costs = &costs
	return res
}

// profiledProcess is a process whose CPU profile a load records: record writes a profile of
// the given number of seconds to a path.
type profiledProcess struct {
	name   string
	record func(path string, seconds int) error
}

// apiServer profiles kube-apiserver: what a load's writes cost it.
func (b *bench) apiServer() profiledProcess {
	return profiledProcess{name: "apiserver", record: func(path string, seconds int) error {
		data, err := b.cs.RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(seconds)).
			Timeout(time.Duration(seconds)*time.Second + 30*time.Second).DoRaw(context.Background())
		if err != nil {
			return err
		}
		return os.WriteFile(path, data, 0o644)
	}}
}

// servedProfile profiles the process named name that serves Go's pprof at pprofURL.
func servedProfile(name, pprofURL string) profiledProcess {
	return profiledProcess{name: name, record: func(path string, seconds int) error {
		return download(fmt.Sprintf("%s/profile?seconds=%d", pprofURL, seconds), path)
	}}
}

// profiler records the CPU profiles of a load's processes while its slices run, a part per
// slice, and merges each process's parts into one profile when the load is done.
type profiler struct {
	processes []profiledProcess
	// path is where a process's merged profile goes.
	path  func(process string) string
	parts map[string][]string
}

// profiles returns the profiler of the load of mode (a file name) at c clients.
func (b *bench) profiles(mode string, c int, processes ...profiledProcess) *profiler {
	return newProfiler(func(process string) string { return b.profilePath(mode, c, process) }, processes...)
}

// newProfiler returns a profiler of processes whose merged profiles go to path(process).
func newProfiler(path func(process string) string, processes ...profiledProcess) *profiler {
	return &profiler{processes: processes, parts: map[string][]string{}, path: path}
}

// profilePath is where the CPU profile of process of, in the load of mode at c clients, goes.
func (b *bench) profilePath(mode string, c int, of string) string {
	return filepath.Join(b.work, fmt.Sprintf("cpu-%s-%d-%s.pprof", mode, c, of))
}

// record profiles every process, in the background, for the whole seconds of a slice of length
// d; done waits for the profiles.
func (p *profiler) record(d time.Duration) (done func()) {
	if p == nil {
		return func() {}
	}
	seconds := max(1, int(d.Seconds()))
	var waits []chan struct{}
	for _, proc := range p.processes {
		part := fmt.Sprintf("%s.part%d", p.path(proc.name), len(p.parts[proc.name]))
		p.parts[proc.name] = append(p.parts[proc.name], part)
		wait := make(chan struct{})
		waits = append(waits, wait)
		go func() {
			defer close(wait)
			if err := proc.record(part, seconds); err != nil {
				fmt.Fprintf(os.Stderr, "    profile of %s: %v\n", proc.name, err)
			}
		}()
	}
	return func() {
		for _, wait := range waits {
			<-wait
		}
	}
}

// merge merges each process's parts into its profile.
func (p *profiler) merge() {
	if p == nil {
		return
	}
	for _, proc := range p.processes {
		path := p.path(proc.name)
		if err := mergeProfiles(path, p.parts[proc.name]); err != nil {
			fmt.Fprintf(os.Stderr, "    profile of %s: %v\n", proc.name, err)
			continue
		}
		fmt.Fprintf(os.Stderr, "    CPU profile of %s: go tool pprof -top %s\n", proc.name, path)
	}
}
