package integration

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestMetricsEndpointAuthenticatesLikeTheRESTAPI: the secure metrics endpoint, with the filter
// the manager ships, serves a scraper with the right to get /metrics, refuses a token without
// it (403) and garbage (401), and 500 forged service-account tokens cost no TokenReview.
func TestMetricsEndpointAuthenticatesLikeTheRESTAPI(t *testing.T) {
	ns := env.Namespace(t)
	metricsAddr := testenv.FreeAddr(t)
	env.StartOperatorWith(t, ns, startOptions(floodTimeout), nil, func(o *ctrl.Options) {
		o.Metrics = metricsserver.Options{BindAddress: metricsAddr, SecureServing: true,
			FilterProvider: auth.MetricsFilter(auth.Options{}, auth.DefaultMetricsInFlight)}
	})
	scraper := env.ServiceAccount(t, ns, "scraper")
	grantMetricsReader(t, ns, scraper.Name)
	nobody := env.ServiceAccount(t, ns, "nobody").Token
	url := "https://" + metricsAddr + "/metrics"
	scrape := func(token string) int {
		status, _ := call(localClient, "GET", url, "", "Authorization", "Bearer "+token)
		return status
	}
	// The binding reaches the API server's authorizer within moments; a denial meanwhile is
	// cached for DenyCacheTTL.
	status := scrape(scraper.Token)
	for deadline := time.Now().Add(3 * auth.DenyCacheTTL); status != http.StatusOK && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		status = scrape(scraper.Token)
	}
	if status != http.StatusOK {
		t.Fatalf("a scraper with the metrics-reader role got %d, want 200", status)
	}
	if status := scrape(nobody); status != http.StatusForbidden {
		t.Errorf("a token without the right got %d, want 403", status)
	}
	sarsBefore := env.APIRequests(t, map[string]string{"resource": "subjectaccessreviews"})
	for i := range 50 { // made-up methods are refused before any question is asked about them
		if status, _ := call(localClient, fmt.Sprintf("M%04d", i), url, "", "Authorization", "Bearer "+nobody); status != http.StatusMethodNotAllowed {
			t.Fatalf("a made-up method got %d, want 405", status)
		}
	}
	if sars := env.APIRequests(t, map[string]string{"resource": "subjectaccessreviews"}) - sarsBefore; sars > 0 {
		t.Errorf("50 made-up methods cost %.0f SubjectAccessReviews, want 0", sars)
	}
	if status := scrape(randomToken()); status != http.StatusUnauthorized && status != http.StatusServiceUnavailable {
		t.Errorf("an opaque garbage token got %d, want 401 or 503", status)
	}
	forger := newForger(t)
	before := env.APIRequests(t, map[string]string{"resource": "tokenreviews"})
	for range 500 {
		if status := scrape(forger.token()); status != http.StatusUnauthorized {
			t.Fatalf("a forged service-account token got %d, want 401", status)
		}
	}
	if reviews := env.APIRequests(t, map[string]string{"resource": "tokenreviews"}) - before; reviews > 0 {
		t.Errorf("500 forged tokens cost %.0f TokenReviews, want 0", reviews)
	}
	if status := scrape(scraper.Token); status != http.StatusOK {
		t.Errorf("the scraper after the forged tokens got %d, want 200", status)
	}
}

// grantMetricsReader binds a ClusterRole allowing get on /metrics to the service account, as
// the chart's metrics-reader role is bound to Prometheus.
func grantMetricsReader(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "metrics-reader-"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	if err := env.Client.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "metrics-reader-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: name}},
	}
	if err := env.Client.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(ctx, binding)
		_ = env.Client.Delete(ctx, role)
	})
}
