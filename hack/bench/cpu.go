package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuUsage is the CPU time, in seconds, that the processes of a load run used.
type cpuUsage struct {
	// server is the keep-alive server's process: the manager or vcsim (0 for raw PATCH).
	server float64
	// controlPlane is kube-apiserver and etcd; load is the load generator (this process).
	controlPlane, load float64
}

func (u cpuUsage) sub(v cpuUsage) cpuUsage {
	return cpuUsage{server: u.server - v.server, controlPlane: u.controlPlane - v.controlPlane, load: u.load - v.load}
}

func (u cpuUsage) add(v cpuUsage) cpuUsage {
	return cpuUsage{server: u.server + v.server, controlPlane: u.controlPlane + v.controlPlane, load: u.load + v.load}
}

// cpuNow reads the CPU time used so far by the server process serverPID (0: none), by the control
// plane (this process's kube-apiserver and etcd children) and by this process.
func cpuNow(serverPID int) cpuUsage {
	u := cpuUsage{load: processCPU(os.Getpid())}
	if serverPID != 0 {
		u.server = processCPU(serverPID)
	}
	for _, pid := range controlPlanePIDs() {
		u.controlPlane += processCPU(pid)
	}
	return u
}

// stat returns the fields of /proc/PID/stat after the command name (the first is the state) and
// the command name.
func stat(pid int) (fields []string, comm string) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, ""
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return nil, ""
	}
	return strings.Fields(s[closing+1:]), s[open+1 : closing]
}

// processCPU is the user and system CPU time of pid, in seconds.
func processCPU(pid int) float64 {
	fields, _ := stat(pid)
	if len(fields) < 13 {
		return 0
	}
	user, _ := strconv.ParseFloat(fields[11], 64)
	system, _ := strconv.ParseFloat(fields[12], 64)
	return (user + system) / clockTicks
}

// controlPlanePIDs are the kube-apiserver and etcd processes this process started (envtest's).
func controlPlanePIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if fields, comm := stat(pid); len(fields) > 1 && fields[1] == self && (comm == "kube-apiserver" || comm == "etcd") {
			pids = append(pids, pid)
		}
	}
	return pids
}
