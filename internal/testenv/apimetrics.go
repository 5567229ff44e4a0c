package testenv

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// APIRequests returns how many requests the API server has served whose labels match every
// one of match (for example resource "tokenreviews"), from its own apiserver_request_total.
func (e *Env) APIRequests(t testing.TB, match map[string]string) float64 {
	t.Helper()
	total, err := CountAPIRequests(context.Background(), e.CP.Config, func(labels map[string]string) bool {
		for k, v := range match {
			if labels[k] != v {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// CountAPIRequests returns how many requests the API server of cfg has served whose labels
// (verb, resource, subresource, code, ...) match, from its own apiserver_request_total.
func CountAPIRequests(ctx context.Context, cfg *rest.Config, match func(labels map[string]string) bool) (float64, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	data, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	parser := expfmt.NewTextParser(prommodel.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("parsing the API server's metrics: %w", err)
	}
	var total float64
	for _, m := range families["apiserver_request_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if match(labels) {
			total += m.GetCounter().GetValue()
		}
	}
	return total, nil
}
