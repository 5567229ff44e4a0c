package auth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/contentlib/update-session-operator/internal/admit"
)

// DefaultMetricsInFlight bounds the metrics endpoint's requests in flight: a scrape is one
// request every few seconds, so a handful per source is plenty.
var DefaultMetricsInFlight = admit.Caps{Total: 64, PerSource: 4}

// metricsTimeout bounds a scrape's reviews.
const metricsTimeout = 10 * time.Second

// MetricsFilter returns the metrics endpoint's filter: it authenticates and authorizes scrapers
// through a Gate of its own, as the REST server does its callers (service-account tokens checked
// locally, reviews shared fairly by source and by caller, answers cached), where
// controller-runtime's filter would send a TokenReview for every request with an unknown
// token. Requests over limits are refused at once: 503 with Retry-After.
func MetricsFilter(opts Options, limits admit.Caps) func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
	return func(cfg *rest.Config, _ *http.Client) (metricsserver.Filter, error) {
		gate, err := NewGate(cfg, opts)
		if err != nil {
			return nil, err
		}
		inFlight := admit.NewCounter(limits)
		return func(log logr.Logger, next http.Handler) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				source := admit.SourceOf(r.RemoteAddr)
				if err := inFlight.Acquire(source); err != nil {
					refuse(w, http.StatusServiceUnavailable, "too many requests in flight: "+err.Error())
					return
				}
				defer inFlight.Release(source)
				if status, msg := gate.admitScrape(r, source.String()); status != http.StatusOK {
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
// status to refuse it with and why. A scrape is a GET (or a HEAD), asked about as the verb get:
// a method the client makes up never becomes a question to the API server.
func (g *Gate) admitScrape(r *http.Request, source string) (int, string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return http.StatusMethodNotAllowed, "the metrics endpoint answers GET"
	}
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
	allowed, reason, err := g.AuthorizePath(ctx, caller, "get", r.URL.Path)
	switch {
	case err != nil:
		return http.StatusServiceUnavailable, err.Error()
	case !allowed:
		return http.StatusForbidden, caller.GetName() + " may not get " + r.URL.Path + ": " + reason
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
