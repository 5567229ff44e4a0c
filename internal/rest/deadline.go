package rest

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// callContext is the context of one call: the request's values without its cancellation (a
// client that hangs up does not cut off API-server work its call started, as at shutdown), and
// a deadline requestTimeout after the call arrived. The timer that ends it at the deadline is
// armed only once something waits for the end through Done, as every API-server call does. A
// call answered from memory, such as a coalesced keep-alive, never arms one: context.WithTimeout
// would start and stop a runtime timer on every call, about 2% of the hot path's CPU.
type callContext struct {
	context.Context
	deadline time.Time

	mu    sync.Mutex
	done  chan struct{}
	timer *time.Timer
	err   error
}

// newCallContext returns r's call context and the function that ends it once r is answered.
func newCallContext(r *http.Request, timeout time.Duration) (*callContext, context.CancelFunc) {
	c := &callContext{Context: context.WithoutCancel(r.Context()), deadline: time.Now().Add(timeout)}
	return c, func() { c.end(context.Canceled) }
}

func (c *callContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Done arms the deadline's timer the first time it is called.
func (c *callContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		} else {
			c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
		}
	}
	return c.done
}

// Err reports the end, whether or not the timer was armed.
func (c *callContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && !time.Now().Before(c.deadline) {
		c.endLocked(context.DeadlineExceeded)
	}
	return c.err
}

func (c *callContext) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(err)
}

// endLocked ends the context with err, unless it has ended already.
func (c *callContext) endLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.done != nil {
		close(c.done)
	}
}
