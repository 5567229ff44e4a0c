package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
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

// child is a server the bench runs as a process of its own (the anchors, vcsim), as the
// manager is, so that both sides of a comparison pay for HTTP and a process alike.
type child struct {
	cmd *exec.Cmd
	// out is the child's standard output after the first line, its URL.
	out *bufio.Reader
	url string
}

// startChild runs the bench binary itself with args, which make it serve and print the URL it
// serves at as its first line.
func startChild(args ...string) (*child, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	started(cmd.Process)
	c := &child{cmd: cmd, out: bufio.NewReader(stdout)}
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: %w", strings.Join(args, " "), err)
	}
	c.url = strings.TrimSpace(line)
	return c, nil
}

// stop kills the child and waits for it.
func (c *child) stop() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
	stopped(c.cmd.Process)
}
