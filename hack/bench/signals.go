package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// children are the processes the bench started and has not stopped yet (the manager, vcsim),
// so that a signal stops them too.
var children = struct {
	sync.Mutex
	procs map[*os.Process]bool
}{procs: map[*os.Process]bool{}}

// started records a child process until stopped.
func started(p *os.Process) {
	children.Lock()
	defer children.Unlock()
	children.procs[p] = true
}

// stopped forgets a child process that was stopped.
func stopped(p *os.Process) {
	children.Lock()
	defer children.Unlock()
	delete(children.procs, p)
}

// stopOnSignal makes an interrupt or termination (Ctrl-C, or a timeout's SIGTERM) stop what the
// bench started before it exits: the phases do not watch for it, a SIGTERM reaches the bench
// alone, and kube-apiserver and etcd run in process groups of their own that not even a Ctrl-C
// reaches.
func stopOnSignal(stopControlPlane func() error) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "bench: %v: stopping the manager, vcsim and the control plane\n", sig)
		children.Lock()
		for p := range children.procs {
			_ = p.Kill()
		}
		children.Unlock()
		_ = stopControlPlane()
		os.Exit(1)
	}()
}
