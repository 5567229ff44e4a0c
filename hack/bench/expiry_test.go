package main

import (
	"math"
	"testing"
	"time"
)

func TestExpiryRates(t *testing.T) {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, tc := range []struct {
		name           string
		deletions      []deletion
		rate, arrivals float64
	}{
		{"deleted from the first expirationTime to the last deletion",
			[]deletion{{at(0), at(500)}, {at(1000), at(1500)}, {at(2000), at(4000)}}, 0.75, 1.5},
		{"the last deletion counts though a session due earlier was seen later",
			[]deletion{{at(0), at(3000)}, {at(1000), at(1500)}, {at(2000), at(2500)}}, 1, 1.5},
		{"one session has a rate but no arrival rate", []deletion{{at(0), at(250)}}, 4, 0},
		{"no sessions have neither", nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := expiryResult{deletions: tc.deletions}
			if !near(e.rate(), tc.rate) || !near(e.arrivalRate(), tc.arrivals) {
				t.Errorf("rate %v, arrival rate %v; want %v, %v", e.rate(), e.arrivalRate(), tc.rate, tc.arrivals)
			}
		})
	}
}

func TestRawDeleteRate(t *testing.T) {
	if got := (rawDeleteResult{n: 1000, took: 2500 * time.Millisecond}).rate(); !near(got, 400) {
		t.Errorf("rate() = %v, want 400", got)
	}
	if got := (rawDeleteResult{}).rate(); got != 0 {
		t.Errorf("rate() = %v when nothing ran, want 0", got)
	}
}

func TestDeletionCost(t *testing.T) {
	c := deletionCost{deletions: 8000, apiServer: 24 * time.Second, manager: 2 * time.Second}
	if got := c.perDeletion(); got != 3*time.Millisecond {
		t.Errorf("perDeletion() = %v, want 3ms", got)
	}
	if got, want := c.cores(c.apiServer), 24/deletionProfileFor.Seconds(); math.Abs(got-want) > 1e-9 {
		t.Errorf("API server cores = %v, want %v", got, want)
	}
	if got := (deletionCost{apiServer: time.Second}).perDeletion(); got != 0 {
		t.Errorf("perDeletion() = %v with no deletions, want 0", got)
	}
}
