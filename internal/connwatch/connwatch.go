// Package connwatch bounds how long an HTTP/1 connection may take to send a request, to be
// answered, and to stay idle: what http.Server's ReadTimeout, WriteTimeout and IdleTimeout
// do, without their cost on every request.
//
// Those timeouts are socket deadlines, and net/http moves them five times on each request of a
// kept-alive connection (it sets the idle wait's, the headers', the answer's, and lifts the
// answer's and the read's), each time arming, moving or disarming a runtime timer. For a
// server of small calls that is about a tenth of its CPU per call (measured: 69 against 76 µs
// of CPU per call, client and server in one process, 64 connections). A Watch instead stamps
// each connection's phase, on a clock it advances once a tick, and once a tick closes the
// connections that have been in one phase longer than its limit. A limit is thus kept to
// within a tick, which is a tenth of the shortest limit, at most a second.
//
// A response body the kernel sends (sendfile, see ReadFrom) is a long answer: it is cut only
// once no byte of it has left for the answer limit, however slow its client. Between its chunks
// it answers afresh; within one, on Linux, the watch asks the kernel whether the client
// acknowledged bytes since it last asked.
package connwatch

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Phase is where a connection is in its request-answer cycle.
type Phase uint8

const (
	// Request lasts from a request's first byte until its headers are read. A new connection is in
	// it from its accept, so that its TLS handshake counts too.
	Request Phase = iota
	// Answer lasts from a request's headers read until its answer is written.
	Answer
	// Idle lasts from an answer until the first byte of the next request.
	Idle
)

func (p Phase) String() string {
	switch p {
	case Request:
		return "request"
	case Answer:
		return "answer"
	default:
		return "idle"
	}
}

// Limits are the longest a connection may stay in each phase. Zero is no limit.
type Limits struct {
	Request, Answer, Idle time.Duration
}

func (l Limits) of(p Phase) time.Duration {
	return [...]time.Duration{Request: l.Request, Answer: l.Answer, Idle: l.Idle}[p]
}

// Watch watches the connections of one listener.
type Watch struct {
	limits Limits
	tick   time.Duration
	// onClose is told of each connection the watch closes, with the phase it overstayed.
	onClose func(Phase)
	// start is the origin of the clock; now is nanoseconds since start, advanced each tick, so
	// that stamping a phase costs an atomic load instead of reading the time.
	start time.Time
	now   atomic.Int64

	mu    sync.Mutex
	conns map[*conn]struct{}
}

// New returns a watch that enforces limits once Run runs; onClose, if not nil, is told of
// each connection it closes.
func New(limits Limits, onClose func(Phase)) *Watch {
	shortest := time.Second * 10
	for _, d := range []time.Duration{limits.Request, limits.Answer, limits.Idle} {
		if d > 0 {
			shortest = min(shortest, d)
		}
	}
	if onClose == nil {
		onClose = func(Phase) {}
	}
	return &Watch{limits: limits, tick: max(time.Millisecond, shortest/10), onClose: onClose,
		start: time.Now(), conns: map[*conn]struct{}{}}
}

// Listener watches every connection ln accepts. For HTTPS, wrap it in TLS afterwards
// (tls.NewListener(w.Listener(ln), config)), so that handshakes are watched too.
func (w *Watch) Listener(ln net.Listener) net.Listener { return listener{ln, w} }

// ConnState moves a connection between phases; set it as the server's http.Server.ConnState.
func (w *Watch) ConnState(c net.Conn, state http.ConnState) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	wc, ok := c.(*conn)
	if !ok {
		return
	}
	switch state {
	case http.StateActive:
		wc.enter(Answer)
	case http.StateIdle:
		wc.enter(Idle)
	case http.StateHijacked: // its new owner bounds it; a closed one forgot itself in Close
		w.forget(wc)
	}
}

// Run closes the connections past their limits, once a tick, until ctx is done. Run it until
// the server has shut down: a call still being answered during shutdown is bounded too.
func (w *Watch) Run(ctx context.Context) {
	ticker := time.NewTicker(w.tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			w.now.Store(int64(time.Since(w.start)))
			w.closeOverdue()
		}
	}
}

// closeOverdue closes the connections that have stayed in a phase longer than its limit. A
// connection whose body the kernel sends is looked at each tick from a quarter of the answer
// limit on (see sent), so that a client that took bytes since the last look answers afresh and
// one that stopped is cut within a quarter of the limit past it; a faster look would cost a
// system call a tick for every download, one that waited for the limit would cut a stalled
// client only after twice the limit. Looking and closing are done outside the lock: closing a
// connection forgets it.
func (w *Watch) closeOverdue() {
	now := w.now.Load()
	overdue := map[*conn]Phase{}
	var sending []*conn
	w.mu.Lock()
	for c := range w.conns {
		phase, since := c.phase()
		switch limit, age := w.limits.of(phase), time.Duration(now-since); {
		case limit <= 0:
		case phase == Answer && c.sending.Load() && age > limit/4:
			sending = append(sending, c)
		case age > limit:
			overdue[c] = phase
		}
	}
	w.mu.Unlock()
	for _, c := range sending {
		if !w.sent(c, now) {
			overdue[c] = Answer
		}
	}
	for c, phase := range overdue {
		_ = c.Close()
		w.onClose(phase)
	}
}

// sent reports whether c, whose body the kernel sends, is within the answer limit: it answers
// afresh when its client acknowledged bytes since the watch last asked, and so was not idle
// for the limit (its first look compares with nothing, which can only keep it one look more).
// Without a count from the kernel it is bounded by its chunks (see minChunk).
func (w *Watch) sent(c *conn, now int64) bool {
	s := c.state.Load()
	if acked := c.bytesAcked(); acked != c.acked {
		c.acked = acked
		// Unless c moved on meanwhile: a chunk sent, the answer ended.
		c.state.CompareAndSwap(s, encode(Answer, now))
		return true
	}
	phase, since := decode(s)
	return phase != Answer || time.Duration(now-since) <= w.limits.Answer
}

func (w *Watch) track(c *conn) {
	w.mu.Lock()
	w.conns[c] = struct{}{}
	w.mu.Unlock()
}

func (w *Watch) forget(c *conn) {
	w.mu.Lock()
	delete(w.conns, c)
	w.mu.Unlock()
}

type listener struct {
	net.Listener
	w *Watch
}

func (l listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: nc, w: l.w}
	c.enter(Request)
	l.w.track(c)
	return c, nil
}

// conn is a watched connection.
type conn struct {
	net.Conn
	w *Watch
	// state is the phase in its low bits and the watch's clock when it began above them: one
	// word, so that the watch never reads a phase with another phase's start.
	state atomic.Int64
	// sending is whether ReadFrom is handing a body to the connection below.
	sending atomic.Bool
	// raw is the socket under the connection and acked what its peer had acknowledged when the
	// watch last asked (see sent): only the watch's goroutine uses them.
	raw   syscall.RawConn
	acked uint64
}

const phaseBits = 2

func (c *conn) enter(p Phase) { c.state.Store(encode(p, c.w.now.Load())) }

func (c *conn) phase() (Phase, int64) { return decode(c.state.Load()) }

// encode packs a phase and the tick it began at into a conn's state word; decode unpacks it.
func encode(p Phase, since int64) int64 { return since<<phaseBits | int64(p) }

func decode(s int64) (Phase, int64) { return Phase(s & (1<<phaseBits - 1)), s >> phaseBits }

// Read moves an idle connection to Request when the next request's first bytes arrive.
func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		if p, _ := c.phase(); p == Idle {
			c.enter(Request)
		}
	}
	return n, err
}

// The chunks ReadFrom hands the connection below: between chunks the answer counts as
// flowing and its reader hears what was sent (the progress of a download). A chunk doubles
// while chunks go fast, up to what Go's sendfile sends in one call, and halves once one takes
// an eighth of the limit: a fast download makes few calls, and a client that slows down gets
// smaller chunks, so that its progress is still heard. Within a chunk the watch asks the kernel
// whether the client still takes bytes (see Watch.sent), since the socket buffers take the first
// MiBs of a body at once and a chunk grown then may take a slow client minutes. Where the
// kernel does not say, a client must take a chunk within the answer limit: one that drops from
// fast to far slower within one large chunk can be cut before its chunks follow it.
const (
	minChunk = 64 << 10
	maxChunk = 4 << 20
)

// sender is a reader told, between the chunks ReadFrom sends, that bytes may have left it
// without its Read (a file the kernel sent with sendfile).
type sender interface{ Sent() }

// ReadFrom lets net/http hand a response body to the connection below (a TCPConn's ReadFrom:
// sendfile from a file) rather than copy it through the wrapper's Write, in chunks (see
// minChunk): after each the connection is answering afresh, as a Flowing call makes it, and a
// sender hears of it; within each the watch sees bytes leave (see Watch.sent). A download of
// hours is thus bounded by the answer limit on a stall only.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{c.Conn}, r)
	}
	c.sending.Store(true)
	defer c.sending.Store(false)
	src, left := r, int64(-1) // -1: to EOF
	lr, limited := r.(*io.LimitedReader)
	if limited {
		src, left = lr.R, lr.N
	}
	var total int64
	for size := c.w.firstChunk(); left != 0; {
		chunk := size
		if left > 0 {
			chunk = min(chunk, left)
		}
		began := time.Now()
		n, err := rf.ReadFrom(&io.LimitedReader{R: src, N: chunk})
		total += n
		if left > 0 {
			left -= n
		}
		if limited {
			lr.N = left
		}
		if n > 0 {
			c.enter(Answer)
			if s, ok := src.(sender); ok {
				s.Sent()
			}
		}
		if err != nil || n < chunk {
			return total, err
		}
		size = c.w.nextChunk(size, time.Since(began))
	}
	return total, nil
}

// firstChunk is the size of a ReadFrom's first chunk: the smallest, unless answers are not
// limited.
func (w *Watch) firstChunk() int64 {
	if w.limits.Answer <= 0 {
		return maxChunk
	}
	return minChunk
}

// nextChunk is the size of the chunk after one of size that took took.
func (w *Watch) nextChunk(size int64, took time.Duration) int64 {
	switch limit := w.limits.Answer; {
	case limit <= 0:
		return size
	case took > limit/8:
		return max(minChunk, size/2)
	case took < limit/32:
		return min(maxChunk, size*2)
	}
	return size
}

// bytesAcked returns how many bytes the peer has acknowledged, as the kernel counts them; 0
// when it does not, or when no socket is found under the connection's wrappers.
func (c *conn) bytesAcked() uint64 {
	if c.raw == nil {
		c.raw = rawConn(c.Conn)
		if c.raw == nil {
			return 0
		}
	}
	return bytesAcked(c.raw)
}

// rawConn returns the socket under nc and the wrappers that show what they wrap with a NetConn
// method, as tls.Conn does; nil if there is none.
func rawConn(nc net.Conn) syscall.RawConn {
	for {
		switch v := nc.(type) {
		case syscall.Conn:
			rc, err := v.SyscallConn()
			if err != nil {
				return nil
			}
			return rc
		case interface{ NetConn() net.Conn }:
			nc = v.NetConn()
		default:
			return nil
		}
	}
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// Close forgets the connection, whoever closes it.
func (c *conn) Close() error {
	c.w.forget(c)
	return c.Conn.Close()
}

// NetConn returns the connection it watches, as tls.Conn's NetConn does, for whoever looks for
// a connection under its wrappers.
func (c *conn) NetConn() net.Conn { return c.Conn }

type connKey struct{}

// WithConn returns ctx carrying c, when the watch watches it, for Flowing: call it from the
// server's http.Server.ConnContext.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	if wc, ok := c.(*conn); ok {
		return context.WithValue(ctx, connKey{}, wc)
	}
	return ctx
}

// Flowing returns what tells the watch that the request of ctx's connection still makes
// progress (the body of an upload still arrives): calling it starts the Answer phase again, so
// that a transfer of hours is bounded by the answer limit on a stall rather than on the whole
// call. A call costs an atomic load and store: a transfer calls it on every read of its body.
// On a connection the watch does not watch it does nothing.
func Flowing(ctx context.Context) func() {
	c, ok := ctx.Value(connKey{}).(*conn)
	if !ok {
		return func() {}
	}
	return func() {
		if p, _ := c.phase(); p == Answer {
			c.enter(Answer)
		}
	}
}
