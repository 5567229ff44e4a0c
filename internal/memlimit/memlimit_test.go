package memlimit

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestFromCgroup(t *testing.T) {
	cases := []struct {
		name   string
		files  map[string]string
		env    string
		want   int64
		errors bool
	}{
		{name: "cgroup v2 limit", files: map[string]string{"memory.max": "268435456\n"}, want: 241591910},
		{name: "cgroup v2 without a limit", files: map[string]string{"memory.max": "max\n"}},
		{name: "cgroup v1 limit", files: map[string]string{"memory/memory.limit_in_bytes": "1073741824\n"}, want: 966367641},
		{name: "cgroup v1 without a limit", files: map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}},
		{name: "no cgroup"},
		{name: "GOMEMLIMIT wins", files: map[string]string{"memory.max": "268435456\n"}, env: "100MiB"},
		{name: "unreadable limit", files: map[string]string{"memory.max": "lots\n"}, errors: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, content := range tc.files {
				path := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("GOMEMLIMIT", tc.env)
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // restore the test binary's limit
			debug.SetMemoryLimit(math.MaxInt64)
			got, err := FromCgroup(root)
			if (err != nil) != tc.errors {
				t.Fatalf("FromCgroup: error %v, want error: %v", err, tc.errors)
			}
			if got != tc.want {
				t.Errorf("FromCgroup = %d, want %d", got, tc.want)
			}
			want := tc.want
			if want == 0 {
				want = math.MaxInt64 // left alone
			}
			if runtimeLimit := debug.SetMemoryLimit(-1); runtimeLimit != want {
				t.Errorf("runtime memory limit %d, want %d", runtimeLimit, want)
			}
		})
	}
}
