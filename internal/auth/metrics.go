package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// MetricsInFlight bounds the metrics endpoint's requests in flight: a scrape is one request
// every few seconds, so a handful per source is plenty.
type MetricsInFlight struct {
	Total, PerSource int
}

// DefaultMetricsInFlight: 64 scrapes at once, 4 from one source.
var DefaultMetricsInFlight = MetricsInFlight{Total: 64, PerSource: 4}

// metricsTimeout bounds a scrape's reviews.
const metricsTimeout = 10 * time.Second

// MetricsFilter returns the metrics endpoint's filter: it authenticates and authorizes scrapers
// through a Gate of its own, as the REST server does its callers (service-account tokens checked
// locally, reviews shared fairly by source and by caller, answers cached), where
// controller-runtime's filter would send a TokenReview for every request with an unknown
// token. Requests over limits are refused at once: 503 with Retry-After.
func MetricsFilter(opts Options, limits MetricsInFlight) func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
	return func(cfg *rest.Config, _ *http.Client) (metricsserver.Filter, error) {
		gate, err := NewGate(cfg, opts)
		if err != nil {
			return nil, err
		}
		inFlight := newInFlight(limits)
		return func(log logr.Logger, next http.Handler) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				source := remoteIP(r)
				release, ok := inFlight.take(source)
				if !ok {
					refuse(w, http.StatusServiceUnavailable, "too many requests in flight")
					return
				}
				defer release()
				if status, msg := gate.admitScrape(r, source); status != http.StatusOK {
					log.V(4).Info("Metrics request refused", "status", status, "reason", msg)
					refuse(w, status, msg)
					return
				}
				next.ServeHTTP(w, r)
			}), nil
		}, nil
	}
}

// admitScrape authenticates and authorizes a metrics request, answering http.StatusOK or the
// status to refuse it with and why.
func (g *Gate) admitScrape(r *http.Request, source string) (int, string) {
	ctx, cancel := context.WithTimeout(WithSource(r.Context(), source), metricsTimeout)
	defer cancel()
	cred, err := Credentials(r)
	if err != nil {
		return http.StatusUnauthorized, err.Error()
	}
	caller, err := g.Authenticate(ctx, cred.Token)
	switch {
	case errors.Is(err, ErrInvalidToken):
		return http.StatusUnauthorized, err.Error()
	case err != nil:
		return http.StatusServiceUnavailable, err.Error()
	}
	allowed, reason, err := g.AuthorizePath(ctx, caller, strings.ToLower(r.Method), r.URL.Path)
	switch {
	case err != nil:
		return http.StatusServiceUnavailable, err.Error()
	case !allowed:
		return http.StatusForbidden, caller.GetName() + " may not " + strings.ToLower(r.Method) + " " + r.URL.Path + ": " + reason
	}
	return http.StatusOK, ""
}

// refuse answers status with msg; a 503 says when to retry.
func refuse(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(1))
	}
	http.Error(w, msg, status)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// inFlight counts requests in flight, in all and by source, refusing past either limit.
type inFlight struct {
	limits   MetricsInFlight
	mu       sync.Mutex
	total    int
	bySource map[string]int
}

func newInFlight(l MetricsInFlight) *inFlight {
	return &inFlight{limits: l, bySource: map[string]int{}}
}

func (f *inFlight) take(source string) (release func(), ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.total >= f.limits.Total || f.bySource[source] >= f.limits.PerSource {
		return nil, false
	}
	f.total++
	f.bySource[source]++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.total--
		if f.bySource[source]--; f.bySource[source] == 0 {
			delete(f.bySource, source)
		}
	}, true
}
