package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// metricName finds the operator's and controller-runtime's metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\b(?:updatesession|leader_election|workqueue|controller_runtime|rest_client)_[a-z_]+\b`)

// monitoredMetrics returns the metric names the shipped alerts and dashboard query.
func monitoredMetrics(t *testing.T) []string {
	t.Helper()
	root := testenv.ModuleRoot(t)
	var exprs []string
	data, err := os.ReadFile(filepath.Join(root, "config/prometheus/rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Spec struct {
			Groups []struct {
				Rules []struct{ Expr string }
			}
		}
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Spec.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	if data, err = os.ReadFile(filepath.Join(root, "config/grafana/update-session-operator.json")); err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatal(err)
	}
	for _, p := range dashboard.Panels {
		for _, target := range p.Targets {
			exprs = append(exprs, target.Expr)
		}
	}
	var names []string
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) < 5 {
		t.Fatalf("found only %v in the alerts and dashboard", names)
	}
	return names
}

// TestAlertsAndDashboardQueryMetricsThatExist runs the manager with its metrics endpoint and
// leader election, makes it do each thing a metric counts, and checks that every metric the
// shipped alerts and dashboard query is on /metrics.
func TestAlertsAndDashboardQueryMetricsThatExist(t *testing.T) {
	ns := env.Namespace(t)
	deletions := env.WatchDeletions(t, ns)
	metricsAddr := testenv.FreeAddr(t)
	op := env.StartOperatorWith(t, ns, operator.Options{
		Policy: session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour, MaxCoalesce: time.Second}, Concurrency: 2,
	}, nil, func(o *ctrl.Options) {
		o.Metrics = metricsserver.Options{BindAddress: metricsAddr}
		o.LeaderElection, o.LeaderElectionID, o.LeaderElectionNamespace = true, "update-session-operator.contentlib.dev", ns
	})
	<-op.Elected
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	id := apiURLs.createWith(t, op.RESTURL, token, `{"library_item_id": "watched"}`)
	noContent(t, do(t, "POST", apiURLs.action(op.RESTURL, id, "keep-alive"), "", bearer(token)...))
	noContent(t, do(t, "POST", apiURLs.action(op.RESTURL, id, "keep-alive"), "", bearer(token)...)) // coalesced
	refused(t, do(t, "GET", apiURLs.item(op.RESTURL, unknownID), "", bearer(token)...), 404, "NOT_FOUND")
	env.CreateShortLived(t, testenv.NewSession(ns, "expires", 1))
	deletions.Wait(t, "expires", time.Minute)

	// The reconciler counts a deletion once the API server has answered it, which may be after
	// the watch above saw it: scrape until every metric is there, for a few seconds at most.
	monitored := monitoredMetrics(t)
	missing := missingMetrics(t, "http://"+metricsAddr+"/metrics", monitored)
	for deadline := time.Now().Add(10 * time.Second); len(missing) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		missing = missingMetrics(t, "http://"+metricsAddr+"/metrics", monitored)
	}
	for _, name := range missing {
		t.Errorf("metric %s, queried by the alerts or the dashboard, is not on /metrics", name)
	}
}

// missingMetrics scrapes url and returns the names (histogram series by their _bucket, _sum or
// _count name) that are not on it.
func missingMetrics(t *testing.T, url string, names []string) []string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(prommodel.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	var missing []string
	for _, name := range names {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && families[b] != nil {
				base = b
			}
		}
		if families[base] == nil {
			missing = append(missing, name)
		}
	}
	return missing
}
