package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
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

// blockingReader is a store reader whose Read waits for release, and which counts its closes.
type blockingReader struct {
	reading, release chan struct{}
	closes           atomic.Int32
}

func (b *blockingReader) Read([]byte) (int, error) {
	close(b.reading)
	<-b.release
	return 0, io.EOF
}
func (b *blockingReader) Seek(int64, int) (int64, error) { return 0, nil }
func (b *blockingReader) Close() error                   { b.closes.Add(1); return nil }
func (b *blockingReader) Offset() int64                  { return 0 }
func (b *blockingReader) File() *os.File                 { return nil }
func (b *blockingReader) Sync() int64                    { return 0 }

// TestServedReaderClosesAfterTheReadUnderWay checks what a download of several ranges needs:
// http.ServeContent may return, and the download close its reader, while its goroutine is still
// in a Read; the reader is closed once that Read ends, not under it, and read no more.
func TestServedReaderClosesAfterTheReadUnderWay(t *testing.T) {
	store := &blockingReader{reading: make(chan struct{}), release: make(chan struct{})}
	served := &servedReader{storeReader: store, flowing: func() {}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = served.Read(make([]byte, 8))
	}()
	<-store.reading
	if err := served.Close(); err != nil {
		t.Fatal(err)
	}
	if n := store.closes.Load(); n != 0 {
		t.Fatalf("closed %d times under a Read", n)
	}
	close(store.release)
	<-done
	if n := store.closes.Load(); n != 1 {
		t.Fatalf("closed %d times once the Read ended, want 1", n)
	}
	if _, err := served.Read(make([]byte, 8)); !errors.Is(err, errReaderClosed) {
		t.Errorf("a Read after Close: %v, want errReaderClosed", err)
	}
	if _, err := served.Seek(0, io.SeekStart); !errors.Is(err, errReaderClosed) {
		t.Errorf("a Seek after Close: %v, want errReaderClosed", err)
	}
}
