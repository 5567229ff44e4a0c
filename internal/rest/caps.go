package rest

import (
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/contentlib/update-session-operator/internal/admit"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// capsRetryAfter is the Retry-After of a call refused for being past the caps on connections or
// requests in flight: calls end within milliseconds, so places free up within a second.
const capsRetryAfter = time.Second

var (
	refusedConnections = metrics.RESTRefused.WithLabelValues(metrics.RefusedConnections)
	refusedInFlight    = metrics.RESTRefused.WithLabelValues(metrics.RefusedInFlight)
)

// serveWithinCaps serves a request within the caps on connections and on requests in flight,
// and refuses any other at once, never queuing it. A connection accepted past its caps (see
// admit.Listener) is answered and closed, which frees its place.
func (s *Server) serveWithinCaps(w http.ResponseWriter, r *http.Request) {
	src := admit.SourceOf(r.RemoteAddr)
	if why := admit.Refused(r.Context()); why != nil { // counted at accept
		w.Header().Set("Connection", "close")
		s.refuseOverCaps(w, r, capsError(why, "open connections", src))
		return
	}
	if why := s.inFlight.Acquire(src); why != nil {
		refusedInFlight.Inc()
		s.refuseOverCaps(w, r, capsError(why, "requests in flight", src))
		return
	}
	defer s.inFlight.Release(src)
	s.serve(w, r)
}

// refuseOverCaps answers err, counted as a call of no operation, as a call refused before its
// operation is known is.
func (s *Server) refuseOverCaps(w http.ResponseWriter, r *http.Request, err *vapi.Error) {
	start := time.Now()
	s.refuse(w, r, formFor(r.URL.Path), err)
	metrics.RESTCallOf(noOperation, string(err.Type)).Observe(time.Since(start))
}

// capsError is the SERVICE_UNAVAILABLE that tells src that it, or every source together, holds
// too many of what.
func capsError(why error, what string, src netip.Addr) *vapi.Error {
	var e *vapi.Error
	if errors.Is(why, admit.ErrPerSource) {
		e = vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "Too many %s from %s; retry later.", what, src)
	} else {
		e = vapi.Errorf(vapi.ServiceUnavailable, msgUnavailable, "The server has too many %s; retry later.", what)
	}
	e.RetryAfter = capsRetryAfter
	return e
}
