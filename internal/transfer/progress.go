package transfer

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// Counter counts the bytes read through it, and keeps the error a read returned other than
// io.EOF: a body cut short. Every read that returns bytes also calls onRead (nil: nothing),
// which is how a transfer tells the connection watch that its body still flows.
type Counter struct {
	r      io.Reader
	onRead func()
	n      atomic.Int64
	err    atomic.Pointer[error]
}

// NewCounter counts the bytes read from r.
func NewCounter(r io.Reader, onRead func()) *Counter { return &Counter{r: r, onRead: onRead} }

func (c *Counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
		if c.onRead != nil {
			c.onRead()
		}
	}
	if err != nil && err != io.EOF { //nolint:errorlint // io.Reader returns io.EOF itself
		c.err.Store(&err)
	}
	return n, err
}

// Err is the error a read returned other than io.EOF, nil if none did.
func (c *Counter) Err() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

// N is how many bytes were read.
func (c *Counter) N() int64 { return c.n.Load() }

// Report is one progress write: the bytes transferred so far, and whether any moved since the
// previous write (only bytes flowing count as the session's activity).
type Report struct {
	Bytes int64
	Moved bool
}

// Progress writes a running transfer's progress once an interval, never per chunk: that keeps
// its heartbeat fresh (the claim on its file), shows bytesTransferred, and, while bytes flow,
// keeps the session alive.
type Progress struct {
	Clock    clock.WithTicker
	Interval time.Duration
	// Write records a report. An error means the transfer must stop (its claim on the file was
	// lost, its session ended): Run then aborts it with that error. Write deals with passing
	// trouble (an API server that does not answer) itself, and returns nil for it.
	Write func(ctx context.Context, r Report) error
}

// Run writes the progress of count every interval until ctx is done; a Write error calls
// abort with it and ends the reports.
func (p Progress) Run(ctx context.Context, count func() int64, abort context.CancelCauseFunc) {
	ticker := p.Clock.NewTicker(p.Interval)
	defer ticker.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		n := count()
		if err := p.Write(ctx, Report{Bytes: n, Moved: n > last}); err != nil {
			abort(err)
			return
		}
		last = n
	}
}

// Start runs Run in a goroutine; stop ends it and waits until it has ended, so that no
// progress write follows the transfer's last write.
func (p Progress) Start(ctx context.Context, count func() int64, abort context.CancelCauseFunc) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx, count, abort)
	}()
	return func() {
		cancel()
		<-done
	}
}
