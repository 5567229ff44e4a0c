package rest

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

func TestDownloadEnd(t *testing.T) {
	storeFailed := errors.New("GetObject: 500 Internal Server Error")
	for _, tc := range []struct {
		name       string
		read, sent error
		want       string
		wantType   vapi.ErrorType // "": the call succeeded
	}{
		{"every byte handed to the connection is complete", nil, nil, metrics.DownloadComplete, ""},
		{"a session that ended is lost", fmt.Errorf("reading: %w", errDownloadLost), errDownloadLost,
			metrics.DownloadLost, vapi.NotAllowedInCurrentState},
		{"a replica shutting down stopped it", errShuttingDown, errShuttingDown, metrics.DownloadStopped,
			vapi.ServiceUnavailable},
		{"a client gone while bytes were sent is cut", nil, syscall.EPIPE, metrics.DownloadCut, vapi.InvalidRequest},
		{"a client gone while bytes were read is cut", context.Canceled, context.Canceled, metrics.DownloadCut,
			vapi.InvalidRequest},
		{"a read that failed the copy is the store's", storeFailed, storeFailed, metrics.DownloadStore,
			vapi.ServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := downloadEnd(tc.read, tc.sent)
			var cut *answerCut
			gotType := vapi.ErrorType("")
			if errors.As(err, &cut) {
				gotType = cut.typ
			} else if err != nil {
				t.Fatalf("downloadEnd returned %v, not an answerCut", err)
			}
			if got != tc.want || gotType != tc.wantType {
				t.Errorf("downloadEnd(%v, %v) = %s, %q; want %s, %q", tc.read, tc.sent, got, gotType, tc.want, tc.wantType)
			}
		})
	}
}
