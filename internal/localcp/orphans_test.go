package localcp

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReapOrphansKillsOnlyOrphans runs a stand-in "etcd" (a copy of sh) twice from a folder of
// its own, each with a data folder as envtest makes them: once from a shell that exits at once
// (an orphan, as a crashed run leaves its control plane), once as a child of this test (a
// control plane whose run is alive). Only the orphan is killed and only its folder removed.
func TestReapOrphansKillsOnlyOrphans(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	etcd := filepath.Join(dir, "etcd")
	if data, err := os.ReadFile(sh); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(etcd, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// `etcd -c 'sleep 5; :' etcd --data-dir=D` stays a process running dir/etcd, with D in its
	// command line, for 5 s.
	args := func(dataDir string) []string { return []string{"-c", "sleep 5; :", "etcd", "--data-dir=" + dataDir} }

	orphanDir, childDir := envtestDir(t), envtestDir(t)
	launch := append([]string{"-c", `"$0" "$@" >/dev/null 2>&1 & echo $!`, etcd}, args(orphanDir)...)
	out, err := exec.Command("sh", launch...).Output()
	if err != nil {
		t.Fatal(err)
	}
	orphanPID, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(orphanPID) })
	child := exec.Command(etcd, args(childDir)...)
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	// Each stand-in forks its sleep: until that fork has become sleep, it is a third process
	// running dir/etcd, and once the orphan is killed, an orphan too.
	waitForProcesses(t, dir, 2)
	// The shell has exited (Output waited for it), and the kernel re-parented its child.
	if ppid := parentPID(orphanPID); ppid != 1 {
		t.Skipf("orphans are re-parented to process %d here, not to init", ppid)
	}

	killed := reapOrphans(dir)
	if len(killed) != 1 || killed[0] != (orphan{name: "etcd", pid: orphanPID}) {
		t.Fatalf("killed %+v, want only the orphan etcd (pid %d)", killed, orphanPID)
	}
	for deadline := time.Now().Add(5 * time.Second); alive(orphanPID); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("orphan (pid %d) still runs", orphanPID)
		}
	}
	if _, err := os.Stat(orphanDir); !os.IsNotExist(err) {
		t.Errorf("the orphan's folder is still there (%v)", err)
	}
	if !alive(child.Process.Pid) {
		t.Error("the test's own child was killed")
	}
	if _, err := os.Stat(childDir); err != nil {
		t.Errorf("the child's folder: %v", err)
	}
}

// waitForProcesses waits until exactly n processes run an executable in dir.
func waitForProcesses(t *testing.T, dir string, n int) {
	t.Helper()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, e := range entries {
			if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && filepath.Dir(exe) == dir {
				running++
			}
		}
		if running == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes run from %s, want %d", running, dir, n)
		}
	}
}

// envtestDir makes a folder named as envtest names those of its processes.
func envtestDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "k8s_test_framework_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// alive reports whether pid runs: it exists and is not a zombie waiting for init.
func alive(pid int) bool {
	fields := statFields(pid)
	return len(fields) > 0 && fields[0] != "Z"
}

func kill(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
