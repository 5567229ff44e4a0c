package localcp

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	// `etcd -c 'read x <FIFO' etcd --data-dir=D` blocks in sh itself until it is killed: no fork,
	// so each stand-in is exactly one process running dir/etcd, with D in its command line, for
	// as long as the test needs it however slow the machine.
	fifo := filepath.Join(t.TempDir(), "never-written")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	args := func(dataDir string) []string {
		return []string{"-c", "read x <" + fifo, "etcd", "--data-dir=" + dataDir}
	}

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
	// The shell has exited (Output waited for it) and the kernel re-parented its child, but that
	// child may still be the shell's fork, not yet running dir/etcd.
	waitForExe(t, orphanPID, etcd)
	if ppid := parentPID(orphanPID); ppid != 1 {
		t.Skipf("orphans are re-parented to process %d here, not to init", ppid)
	}

	killed := reapOrphans(dir)
	if len(killed) != 1 || killed[0] != (orphan{name: "etcd", pid: orphanPID}) {
		t.Fatalf("killed %+v, want only the orphan etcd (pid %d)", killed, orphanPID)
	}
	for deadline := time.Now().Add(time.Minute); alive(orphanPID); time.Sleep(10 * time.Millisecond) {
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

// waitForExe waits until process pid runs the executable exe: a fork execs when the scheduler
// lets it, so this waits on the exec itself; the deadline only ends a test that would hang.
func waitForExe(t *testing.T, pid int, exe string) {
	t.Helper()
	want, err := filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join("/proc", strconv.Itoa(pid), "exe")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		got, err := os.Readlink(link)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d runs %q (%v), want %s", pid, got, err, want)
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

// kill ends a stand-in the test started, whether or not the test got to reap it.
func kill(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
