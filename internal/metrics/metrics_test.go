package metrics

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// TestKnownLabelValuesAreSeriesAtZero checks that on a fresh registry, before any event, every
// known value of a label is a series at zero, so that the alerts and the dashboard show zero
// rather than no data on a fresh install.
func TestKnownLabelValuesAreSeriesAtZero(t *testing.T) {
	cases := []struct {
		metric, label string
		values        []string
	}{
		{"updatesession_deletions_total", "reason", []string{DeletedExpired, DeletedRetention}},
		{"updatesession_expiry_lateness_seconds", "reason", []string{DeletedExpired, DeletedRetention}},
		{"updatesession_deletions_total", "kind", SessionKinds},
		{"updatesession_expiry_lateness_seconds", "kind", SessionKinds},
		{"updatesession_rest_refused_total", "reason", []string{RefusedConnections, RefusedInFlight}},
		{"updatesession_downloads_total", "result", []string{DownloadComplete, DownloadCut, DownloadLost,
			DownloadStopped, DownloadStore}},
	}
	for _, tc := range cases {
		t.Run(tc.metric, func(t *testing.T) {
			want := map[string]float64{}
			for _, v := range tc.values {
				want[v] = 0
			}
			if diff := cmp.Diff(want, series(t, tc.metric, tc.label)); diff != "" {
				t.Errorf("series by %s (-want +got):\n%s", tc.label, diff)
			}
		})
	}
}

// series returns the series of the registered metric named name, by their value of label,
// with their values (a histogram's: its count of observations).
func series(t *testing.T, name, label string) map[string]float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					got[l.GetValue()] = m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return got
}
