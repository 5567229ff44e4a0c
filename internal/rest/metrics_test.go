package rest

import (
	"maps"
	"slices"
	"testing"

	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

// TestEveryRESTSeriesExistsFromTheStart checks that every operation, and none, has a series of
// calls for success and for every vAPI error type, and every phase a series of closed
// connections, whether or not a call or a close happened: rates over them show zero, not no
// data.
func TestEveryRESTSeriesExistsFromTheStart(t *testing.T) {
	calls := labelSets(t, "updatesession_rest_requests_total", "operation", "result")
	names := []string{noOperation}
	for op := range maps.Values(operations) {
		names = append(names, op.name)
	}
	for op := range maps.Values(fixedOperations) {
		names = append(names, op.name)
	}
	for _, name := range names {
		results := make([]string, 0, 1+len(vapi.ErrorTypes))
		if name != noOperation {
			results = append(results, "ok")
		}
		for _, typ := range vapi.ErrorTypes {
			results = append(results, string(typ))
		}
		for _, result := range results {
			if !calls[[2]string{name, result}] {
				t.Errorf("no series of %s calls with result %s", name, result)
			}
		}
	}
	closed := labelSets(t, "updatesession_rest_connections_closed_total", "phase", "")
	for _, p := range phases {
		if !closed[[2]string{p.String(), ""}] {
			t.Errorf("no series of connections closed in phase %s", p)
		}
	}
	if len(closed) != len(phases) {
		t.Errorf("closed connections in phases %v, want %v", slices.Collect(maps.Keys(closed)), phases)
	}
}

// labelSets returns the values of labels a and b (empty when b is) of each series of the
// registered metric named name.
func labelSets(t *testing.T, name, a, b string) map[[2]string]bool {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sets := map[[2]string]bool{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var set [2]string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case a:
					set[0] = l.GetValue()
				case b:
					set[1] = l.GetValue()
				}
			}
			sets[set] = true
		}
	}
	return sets
}
