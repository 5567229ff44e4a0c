package rest

import (
	"iter"
	"maps"

	"github.com/contentlib/update-session-operator/internal/connwatch"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

// noOperation is the operation of the metrics of calls refused before one was found: past the
// caps, or to no route.
const noOperation = "none"

// init makes each series of the REST server's labelled counters exist from the start, at zero,
// so that the alerts' and the dashboard's rates over them show zero rather than no data until
// the first such call: every operation (and none) with every vAPI error type, and every phase
// a connection can be closed in. (The operations' successes are resolved with the operations.)
// The latency histogram's series of errors are left to their first call: a quantile over no
// calls is no data either way.
func init() {
	names := []string{noOperation}
	for _, ops := range []iter.Seq[*operation]{maps.Values(operations), maps.Values(fixedOperations)} {
		for op := range ops {
			names = append(names, op.name)
		}
	}
	for _, name := range names {
		for _, t := range vapi.ErrorTypes {
			metrics.RESTRequests.WithLabelValues(name, string(t))
		}
	}
	for _, p := range phases {
		metrics.ConnectionsClosed.WithLabelValues(p.String())
	}
}

// phases are the phases a connection can be closed in (see package connwatch).
var phases = []connwatch.Phase{connwatch.Request, connwatch.Answer, connwatch.Idle}
