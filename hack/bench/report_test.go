package main

import "testing"

func TestWithHistory(t *testing.T) {
	const md = "# Benchmarks\n\nnew figures\n"
	for _, tc := range []struct {
		name, old, want string
	}{
		{"a first run writes its report alone", "", md},
		{"a report without history is replaced whole", "# Benchmarks\n\nold figures\n", md},
		{"the history of the report replaced follows the new one",
			"# Benchmarks\n\nold figures\n\n## History\n\n- a run\n", md + "\n## History\n\n- a run\n"},
		{"a heading that only starts with History is no history",
			"# Benchmarks\n\n## Historyless\n", md},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := withHistory(md, tc.old); got != tc.want {
				t.Errorf("withHistory() = %q, want %q", got, tc.want)
			}
		})
	}
}
