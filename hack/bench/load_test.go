package main

import (
	"testing"
	"time"
)

func TestLoadAddsItsSlices(t *testing.T) {
	var total loadResult
	for _, s := range []loadResult{
		{ok: 1000, failed: 1, duration: 2 * time.Second, writes: 10, cpu: cpuUsage{server: 0.5, controlPlane: 1, load: 0.25}},
		{ok: 3000, failed: 0, duration: 2 * time.Second, writes: 30, cpu: cpuUsage{server: 1.5, controlPlane: 2, load: 0.75}},
	} {
		total.add(s)
	}
	if len(total.rounds) != 2 || !near(total.rounds[0], 500) || !near(total.rounds[1], 1500) {
		t.Errorf("rounds = %v, want each slice's rate in order: [500 1500]", total.rounds)
	}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"calls a second over every slice", total.throughput(), 1000},
		{"writes per successful call", total.writesPerCall(), 0.01},
		{"writes a second", total.writeRate(), 10},
		{"server CPU per call", total.serverCPUPerCall().Seconds(), 0.0005},
		{"control-plane cores", total.cores(total.cpu.controlPlane), 0.75},
		{"load-generator cores", total.cores(total.cpu.load), 0.25},
		{"failed calls", float64(total.failed), 1},
	} {
		if !near(tc.got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestLoadWithoutSuccessfulCallsCostsNothingPerCall(t *testing.T) {
	l := loadResult{failed: 5, duration: time.Second, writes: 3, cpu: cpuUsage{server: 1}}
	if l.writesPerCall() != 0 || l.serverCPUPerCall() != 0 {
		t.Errorf("per call: writes %v, server CPU %v; want 0, 0", l.writesPerCall(), l.serverCPUPerCall())
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		d := make([]time.Duration, len(ns))
		for i, n := range ns {
			d[i] = time.Duration(n) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"p50 of 100 is the 51st", ms(hundred...), 0.5, 51 * time.Millisecond},
		{"p99 of 100 is the 100th", ms(hundred...), 0.99, 100 * time.Millisecond},
		{"p99 of 10 is the slowest", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{"p50 of one is that one", ms(7), 0.5, 7 * time.Millisecond},
		{"nothing measured is 0", nil, 0.99, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}
