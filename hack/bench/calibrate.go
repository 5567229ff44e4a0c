package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

// measureCalibration pairs vcsim with a second vcsim at each concurrency, in slices as the
// coalesced loads pair the operator with vcsim: two identical servers, so each ratio's distance
// from 1.0x is the pairing's own error on this machine, to hold the coalesced ratios against.
func (b *bench) measureCalibration(ctx context.Context, d time.Duration, sessions int) error {
	step("calibration: vcsim paired with a second vcsim")
	first, err := startVcsim(ctx, sessions)
	if err != nil {
		return err
	}
	defer first.stop()
	second, err := startVcsim(ctx, sessions)
	if err != nil {
		return err
	}
	defer second.stop()
	load := func(mode string, sim *vcsimProcess) side {
		return side{mode: mode, serverPID: sim.cmd.Process.Pid, call: keepAlive(b.http, sim.base(), sim.sessionID, sim.ids)}
	}
	for _, c := range concurrencies {
		a := load("vcsim A", first)
		a.catchUp = coalescedCatchUp() // in the operator's place, as the operator's turns have one
		x, y := b.measurePair(c, d, coalescedSlice(), a, load("vcsim B", second))
		fmt.Fprintf(os.Stderr, "    c=%d: vcsim A at %s vcsim B\n", c, ratioOf(x, y))
	}
	return nil
}
