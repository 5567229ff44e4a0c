package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/pprof/profile"
)

// callCosts is a server's CPU time per successful call of a load, from its CPU profile, by
// where it went: what any Go HTTP server spends reading requests and writing answers, the
// server's own handler, and garbage collection.
type callCosts struct {
	read, handler, write, gc, other time.Duration
}

func (c callCosts) total() time.Duration { return c.read + c.handler + c.write + c.gc + c.other }

// profileCosts reads the CPU profile at path and divides it among the calls made while it was
// recorded, at rate per second.
func profileCosts(path string, rate float64) (callCosts, error) {
	var costs callCosts
	p, err := readProfile(path)
	if err != nil {
		return costs, err
	}
	for _, s := range p.Sample {
		*costPart(&costs, s) += sampleCPU(p, s)
	}
	calls := rate * time.Duration(p.DurationNanos).Seconds()
	if calls < 1 {
		return costs, fmt.Errorf("%s: no calls while it was recorded", path)
	}
	for _, part := range []*time.Duration{&costs.read, &costs.handler, &costs.write, &costs.gc, &costs.other} {
		*part = time.Duration(float64(*part) / calls)
	}
	return costs, nil
}

// costPart is where a sample's time goes: by the first of these functions on its stack.
func costPart(c *callCosts, s *profile.Sample) *time.Duration {
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function == nil {
				continue
			}
			switch line.Function.Name {
			case "net/http.serverHandler.ServeHTTP":
				return &c.handler
			case "net/http.(*conn).readRequest":
				return &c.read
			case "net/http.(*response).finishRequest":
				return &c.write
			case "runtime.gcBgMarkWorker":
				return &c.gc
			}
		}
	}
	return &c.other
}

// cpu is the CPU time in the merged profile of process, or 0 (and a line saying why) when
// it cannot be read.
func (p *profiler) cpu(process string) time.Duration {
	prof, err := readProfile(p.path(process))
	if err != nil {
		fmt.Fprintf(os.Stderr, "    profile of %s: %v\n", process, err)
		return 0
	}
	var total time.Duration
	for _, s := range prof.Sample {
		total += sampleCPU(prof, s)
	}
	return total
}

// sampleCPU is the CPU time of sample s of the CPU profile p: its last value, in nanoseconds.
func sampleCPU(p *profile.Profile, s *profile.Sample) time.Duration {
	return time.Duration(s.Value[len(p.SampleType)-1])
}

func readProfile(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// mergeProfiles merges the CPU profiles at parts, of one process, into one at path (its
// duration the sum of theirs) and removes the parts.
func mergeProfiles(path string, parts []string) error {
	var profiles []*profile.Profile
	for _, part := range parts {
		p, err := readProfile(part)
		if err != nil {
			return err
		}
		profiles = append(profiles, p)
	}
	merged, err := profile.Merge(profiles)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := errors.Join(merged.Write(f), f.Close()); err != nil {
		return err
	}
	for _, part := range parts {
		_ = os.Remove(part)
	}
	return nil
}
