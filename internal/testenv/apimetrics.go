package testenv

import (
	"bytes"
	"context"
	"testing"

	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
)

// APIRequests returns how many requests the API server has served whose labels match every
// one of match (for example resource "tokenreviews"), from its own apiserver_request_total.
func (e *Env) APIRequests(t testing.TB, match map[string]string) float64 {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.CP.Config)
	if err != nil {
		t.Fatal(err)
	}
	data, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("reading the API server's metrics: %v", err)
	}
	parser := expfmt.NewTextParser(prommodel.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parsing the API server's metrics: %v", err)
	}
	var total float64
	for _, m := range families["apiserver_request_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		matches := true
		for k, v := range match {
			matches = matches && labels[k] == v
		}
		if matches {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}
