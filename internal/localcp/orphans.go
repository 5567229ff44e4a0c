package localcp

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// orphan is a control-plane process an earlier run left behind.
type orphan struct {
	name string
	pid  int
}

// reapOrphans kills the kube-apiserver and etcd processes that run binaries from dir and whose
// parent has died, so that they were re-parented to init, and removes their folders: the
// control planes of earlier runs that crashed. envtest starts them in process groups of their
// own, with no parent-death signal, so a test binary that panics (or a manager that is killed)
// leaves them running, taking CPU from every run after it and keeping their data on disk. A
// control plane whose run is alive has that run as its parent and is left alone. Without /proc
// (not Linux) it does nothing.
func reapOrphans(dir string) []orphan {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var killed []orphan
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != dir || !controlPlaneBinary(filepath.Base(exe)) || parentPID(pid) != 1 {
			continue
		}
		dirs := envtestDirs(pid)
		if p, err := os.FindProcess(pid); err == nil && p.Kill() == nil {
			killed = append(killed, orphan{name: filepath.Base(exe), pid: pid})
			for _, d := range dirs {
				_ = os.RemoveAll(d)
			}
		}
	}
	return killed
}

// envtestDirs are the folders envtest made for a process (etcd's --data-dir, kube-apiserver's
// --cert-dir: up to a few hundred MB each), as its command line names them. Only folders that
// are envtest's own temporary ones are returned.
func envtestDirs(pid int) []string {
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil
	}
	var dirs []string
	for arg := range strings.SplitSeq(string(cmdline), "\x00") {
		_, path, ok := strings.Cut(arg, "=")
		if ok && strings.HasPrefix(arg, "--") && filepath.Dir(path) == filepath.Clean(os.TempDir()) &&
			strings.HasPrefix(filepath.Base(path), "k8s_test_framework_") {
			dirs = append(dirs, path)
		}
	}
	return dirs
}

func controlPlaneBinary(name string) bool { return name == "kube-apiserver" || name == "etcd" }

// parentPID is a process's parent, 0 when the process is gone.
func parentPID(pid int) int {
	fields := statFields(pid)
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// statFields are the fields of /proc/PID/stat after the command name ("pid (comm) state ppid
// ...": comm may hold spaces and parentheses, so they start after the last ')'); nil when the
// process is gone.
func statFields(pid int) []string {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	s := string(data)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}
