// Package metrics defines the operator's Prometheus metrics, served on the controller-runtime
// metrics endpoint (--metrics-bind-address).
package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// reasonLabel is the label of why a connection or a request was refused, or a session deleted.
const reasonLabel = "reason"

// kindLabel is the label of a session's kind: UpdateSession or DownloadSession.
const kindLabel = "kind"

// SessionKinds are the values of kindLabel.
var SessionKinds = []string{"UpdateSession", "DownloadSession"}

var (
	// RESTRequests counts REST calls by operation and outcome: "ok" or the vAPI error type.
	RESTRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "updatesession_rest_requests_total",
		Help: "REST API calls, by operation and result (ok or the vAPI error type).",
	}, []string{"operation", resultLabel})

	// RESTLatency is the time from a request's arrival to its answer, by operation and result.
	RESTLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "updatesession_rest_request_duration_seconds",
		Help:    "Time to answer a REST API call, by operation and result (ok or the vAPI error type).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"operation", resultLabel})

	// WritesSaved counts keep-alives answered without a write to the API server.
	WritesSaved = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "updatesession_keepalive_writes_saved_total",
		Help: "Keep-alives answered without writing to the API server: lastActivity was still fresh, or a refresh of the session was under way.",
	})

	// KeepAliveRefreshes counts writes of lastActivity that the refresher made, in batches, for
	// sessions kept alive without pause, as their coalescing windows end.
	KeepAliveRefreshes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "updatesession_keepalive_refreshes_total",
		Help: "Writes of lastActivity made in batches for sessions kept alive without pause, as their coalescing windows end.",
	})

	// WriteConflicts counts REST writes the API server refused because the session had changed;
	// each is retried on the live object.
	WriteConflicts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "updatesession_rest_write_conflicts_total",
		Help: "REST writes refused with a conflict because the session changed since it was read; each is retried.",
	})

	// ConnectionsClosed counts REST connections closed for staying in a phase past its limit.
	ConnectionsClosed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "updatesession_rest_connections_closed_total",
		Help: "REST connections the server closed for staying in a phase past its limit: request (TLS handshake " +
			"and headers), answer (from the headers until the answer is written) or idle (between requests).",
	}, []string{"phase"})

	// RESTRefused counts what the REST server refused for being past its caps: reason
	// "connections" (a connection past the caps on open connections, answered or closed) or
	// "in_flight" (a request past the caps on requests in flight).
	RESTRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "updatesession_rest_refused_total",
		Help: "REST connections and requests refused for being past the server's caps, in total or per source, " +
			"by reason: connections (open connections) or in_flight (requests in flight).",
	}, []string{reasonLabel})

	// Deletions counts sessions the operator deleted, by kind (UpdateSession, DownloadSession)
	// and reason: DeletedExpired or DeletedRetention.
	Deletions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "updatesession_deletions_total",
		Help: "Sessions deleted by the operator, by kind and reason: expired (idle past expirationTime) or retention.",
	}, []string{kindLabel, reasonLabel})

	// ExpiryLateness is how long after its deadline a session was deleted, by the kind and
	// reason of Deletions.
	ExpiryLateness = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "updatesession_expiry_lateness_seconds",
		Help:    "Deletion time minus deadline (expirationTime, or the end of the terminal retention), by kind and reason.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{kindLabel, reasonLabel})
)

// SessionsByState is the gauge of sessions by state; it counts the sessions of the reader
// given to SetReader (the manager's cache) at each scrape, so it is never out of date.
var SessionsByState = &sessionsByState{}

// init registers the metrics with controller-runtime's registry, served on its endpoint.
func init() {
	ctrlmetrics.Registry.MustRegister(RESTRequests, RESTLatency, WritesSaved, KeepAliveRefreshes, WriteConflicts,
		ConnectionsClosed, RESTRefused, Deletions, ExpiryLateness, SessionsByState)
	// Each known label value is a series from the start, at zero, so that the alerts' and the
	// dashboard's rates over it show zero rather than no data until its first event. The
	// REST server's operations and error types are package rest's to make known.
	for _, reason := range []string{RefusedConnections, RefusedInFlight} {
		RESTRefused.WithLabelValues(reason)
	}
	for _, reason := range []string{DeletedExpired, DeletedRetention} {
		for _, kind := range SessionKinds {
			Deletions.WithLabelValues(kind, reason)
			ExpiryLateness.WithLabelValues(kind, reason)
		}
	}
}

// The reasons of RESTRefused.
const (
	RefusedConnections = "connections"
	RefusedInFlight    = "in_flight"
)

// The reasons of Deletions and ExpiryLateness.
const (
	// DeletedExpired is an ACTIVE session's deletion when idle past its expirationTime.
	DeletedExpired = "expired"
	// DeletedRetention is a session's deletion when it ended longer than the terminal
	// retention ago.
	DeletedRetention = "retention"
)

// RESTCall is the series of REST calls of one operation and result. Resolving them once, for
// the results the hot path answers, saves hashing both labels twice on every call.
type RESTCall struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// RESTCallOf returns the series of operation's calls with result.
func RESTCallOf(operation, result string) RESTCall {
	return RESTCall{RESTRequests.WithLabelValues(operation, result), RESTLatency.WithLabelValues(operation, result)}
}

// Observe counts one call that took d.
func (c RESTCall) Observe(d time.Duration) {
	c.requests.Inc()
	c.latency.Observe(d.Seconds())
}

// sessionsDesc describes the gauge of sessions by state.
var sessionsDesc = prometheus.NewDesc("updatesession_sessions",
	"UpdateSessions in the manager's cache, by state.", []string{"state"}, nil)

// sessionsByState counts the sessions of its reader by state when collected.
type sessionsByState struct {
	reader atomic.Pointer[client.Reader]
}

// SetReader sets where sessions are counted.
func (c *sessionsByState) SetReader(r client.Reader) { c.reader.Store(&r) }

// Describe sends the gauge's description.
func (c *sessionsByState) Describe(ch chan<- *prometheus.Desc) { ch <- sessionsDesc }

// Collect sends the number of sessions in each state, zero for states none is in.
func (c *sessionsByState) Collect(ch chan<- prometheus.Metric) {
	reader := c.reader.Load()
	if reader == nil {
		return
	}
	var list v1alpha1.UpdateSessionList
	if err := (*reader).List(context.Background(), &list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(sessionsDesc, err)
		return
	}
	counts := map[v1alpha1.SessionState]int{
		v1alpha1.StateActive: 0, v1alpha1.StateDone: 0, v1alpha1.StateError: 0, v1alpha1.StateCanceled: 0,
	}
	for i := range list.Items {
		st := list.Items[i].Status.State
		if st == "" {
			st = v1alpha1.StateActive
		}
		counts[st]++
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(n), string(st))
	}
}
