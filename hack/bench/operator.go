package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// managerProcess is the operator's real binary, run against the benchmark's control plane.
type managerProcess struct {
	cmd      *exec.Cmd
	restURL  string
	pprofURL string
	logFile  *os.File
}

// startManager runs bin/manager with its default flags but for its listeners, and extra, and
// waits until its REST server answers.
func startManager(binary, kubeconfig, logPath string, extra ...string) (*managerProcess, error) {
	restAddr, metricsAddr, pprofAddr := freeAddr(), freeAddr(), freeAddr()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--kubeconfig=" + kubeconfig,
		"--rest-bind-address=" + restAddr,
		"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false", // served, as in production
		"--health-probe-bind-address=0",
		"--pprof-bind-address=" + pprofAddr,
	}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	started(cmd.Process)
	scheme := "http://"
	if slices.ContainsFunc(extra, func(a string) bool { return strings.HasPrefix(a, "--rest-cert-dir=") }) {
		scheme = "https://"
	}
	m := &managerProcess{cmd: cmd, restURL: scheme + restAddr,
		pprofURL: "http://" + pprofAddr + "/debug/pprof", logFile: logFile}
	// Whether it answers, not whom: its certificate is the bench's own.
	ready := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // see above
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := ready.Get(m.restURL + "/"); err == nil {
			_ = resp.Body.Close()
			return m, nil
		}
	}
	m.stop()
	return nil, fmt.Errorf("manager did not serve REST within 60s; see %s", logPath)
}

func (m *managerProcess) stop() {
	_ = m.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
	stopped(m.cmd.Process)
	_ = m.logFile.Close()
}

// rss returns the manager's resident and peak resident memory, in MiB.
func (m *managerProcess) rss() (current, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			current = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return current, peak
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// heap saves a heap profile of the manager into path and returns the runtime's memory figures
// that explain its resident size (from the profile's text form), or nil.
func (m *managerProcess) heap(path string) map[string]float64 {
	if err := download(m.pprofURL+"/heap", path); err != nil {
		fmt.Fprintln(os.Stderr, "    heap profile:", err)
	} else {
		fmt.Fprintf(os.Stderr, "    heap profile of the manager: go tool pprof -sample_index=inuse_space -top %s\n", path)
	}
	resp, err := http.Get(m.pprofURL + "/heap?debug=1")
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	stats := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// Lines such as "# HeapInuse = 35127296", and "# Stack = 1081344 / 1081344" (in use, from
		// the system).
		name, value, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), " = ")
		if _, sys, both := strings.Cut(value, " / "); both {
			value = sys
		}
		if v, err := strconv.ParseFloat(value, 64); ok && err == nil {
			stats[name] = v
		}
	}
	return stats
}

func download(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}
