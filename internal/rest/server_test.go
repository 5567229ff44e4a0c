package rest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"

	"github.com/contentlib/update-session-operator/internal/vapi"
)

// TestRefusalLogLevels checks what an operator reading production logs (info level) sees of
// refused calls: the operator's own failures, as errors; not the refusals a token flood or an
// API server outage sends thousands a second, which show at debug level only.
func TestRefusalLogLevels(t *testing.T) {
	for _, tc := range []struct {
		typ             vapi.ErrorType
		atInfo, atDebug bool
	}{
		{vapi.InternalServerError, true, true},
		{vapi.ServiceUnavailable, false, true},
		{vapi.Unauthenticated, false, true},
		{vapi.NotFound, false, true},
	} {
		for verbosity, want := range []bool{tc.atInfo, tc.atDebug} {
			var lines []string
			log := funcr.NewJSON(func(line string) { lines = append(lines, line) }, funcr.Options{Verbosity: verbosity})
			s := &Server{Log: log}
			r := httptest.NewRequest(http.MethodPost, apiBase+"/abc?action=keep-alive", nil)
			s.refuse(httptest.NewRecorder(), r, apiForm, vapi.Errorf(tc.typ, "m.id", "refused"))
			if logged := len(lines) > 0; logged != want {
				t.Errorf("%s at verbosity %d: logged %v (%q), want %v", tc.typ, verbosity, logged, lines, want)
			}
			// funcr writes an Info line's verbosity as "level", an Error line's error as "error".
			isError := len(lines) > 0 && strings.Contains(lines[0], `"error":`) && !strings.Contains(lines[0], `"level":`)
			if tc.typ == vapi.InternalServerError && !isError {
				t.Errorf("%s at verbosity %d: %q, want an error line", tc.typ, verbosity, lines)
			}
		}
	}
}
