// Package memlimit sets the Go runtime's soft memory limit from the container's memory limit, so
// that the manager collects garbage harder as it nears that limit instead of being OOM-killed
// with most of its heap garbage: by default the heap may grow to twice what is live before a
// collection, and a burst of sessions can take a live heap past half the limit.
package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Share is the part of the container's limit the Go runtime may use. The rest is for what the
// runtime does not count: the binary's mapped pages, and memory not yet returned to the OS.
const Share = 0.9

// cgroupFiles are where a container's memory limit is, under cgroup v2 and then v1.
var cgroupFiles = []string{"memory.max", "memory/memory.limit_in_bytes"}

// FromCgroup sets the runtime's soft memory limit to Share of the memory limit found under
// root (/sys/fs/cgroup in a container), unless GOMEMLIMIT is set: a limit given explicitly
// wins. It returns the limit it set, or 0 when there is none to follow (no cgroup, no limit).
func FromCgroup(root string) (int64, error) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	limit, err := cgroupLimit(root)
	if err != nil || limit == 0 {
		return 0, err
	}
	soft := int64(float64(limit) * Share)
	debug.SetMemoryLimit(soft)
	return soft, nil
}

// cgroupLimit reads the memory limit under root, in bytes; 0 when there is none.
func cgroupLimit(root string) (int64, error) {
	for _, name := range cgroupFiles {
		b, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		value := strings.TrimSpace(string(b))
		if value == "max" {
			return 0, nil
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("memory limit in %s: %w", name, err)
		}
		// cgroup v1 says "no limit" with a huge number (the page-aligned maximum).
		if n <= 0 || n >= math.MaxInt64/2 {
			return 0, nil
		}
		return n, nil
	}
	return 0, nil
}
