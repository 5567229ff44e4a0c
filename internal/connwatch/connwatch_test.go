package connwatch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// The limits of these tests: short, so that they run in a second, but far longer than a
// request on a loaded machine takes.
var testLimits = Limits{Request: 300 * time.Millisecond, Answer: 600 * time.Millisecond, Idle: 450 * time.Millisecond}

// closes records the phases of the connections a watch closed.
type closes struct {
	mu     sync.Mutex
	phases []Phase
}

func (c *closes) add(p Phase) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.phases = append(c.phases, p)
}

func (c *closes) all() []Phase {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Phase(nil), c.phases...)
}

// serve serves handler over a watched listener, with HTTPS when secure, and returns the
// server's address and what its watch closed.
func serve(t *testing.T, secure bool, handler http.HandlerFunc) (string, *closes) {
	t.Helper()
	addr, closed, _ := serveWatched(t, secure, handler)
	return addr, closed
}

func serveWatched(t *testing.T, secure bool, handler http.HandlerFunc) (string, *closes, *Watch) {
	t.Helper()
	closed := &closes{}
	w := New(testLimits, closed.add)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ConnState: w.ConnState}
	served := w.Listener(ln)
	if secure {
		cert := httptest.NewTLSServer(nil) // only for its certificate
		cert.Close()
		served = tls.NewListener(served, cert.TLS)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go w.Run(ctx)
	go func() { _ = srv.Serve(served) }()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
	})
	return ln.Addr().String(), closed, w
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

// dial opens a connection to addr, over TLS when secure.
func dial(t *testing.T, addr string, secure bool) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if secure {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedWithin waits until the server closes c, and fails unless it did so after at least
// least and before limit plus slack.
func closedWithin(t *testing.T, c net.Conn, since time.Time, least, most time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(since.Add(most))
	_, err := io.Copy(io.Discard, c)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("the connection was still open after %v", most)
	}
	if took := time.Since(since); took < least {
		t.Fatalf("the connection was closed after %v, before its limit of %v", took, least)
	}
}

// tick is the watch's tick for testLimits: a limit is kept to within it.
var tick = testLimits.Request / 10

// slack is what a busy machine may add to a close, beyond the limit and its tick.
const slack = 2 * time.Second

func TestCloses(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		name := map[bool]string{false: "HTTP", true: "HTTPS"}[secure]
		t.Run(name+": a connection that sends nothing, after the request limit", func(t *testing.T) {
			t.Parallel()
			addr, closed := serve(t, secure, ok)
			start := time.Now()
			c := dial(t, addr, false) // over HTTPS, a client that never starts its handshake
			closedWithin(t, c, start, testLimits.Request-tick, testLimits.Request+slack)
			wantPhases(t, closed, Request)
		})
		t.Run(name+": a request whose headers stop coming, after the request limit", func(t *testing.T) {
			t.Parallel()
			addr, closed, w := serveWatched(t, secure, ok)
			c := dial(t, addr, secure)
			roundTrip(t, c)
			waitIdle(t, w) // see TestReadAhead for bytes that arrive sooner
			start := time.Now()
			if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\n"); err != nil {
				t.Fatal(err)
			}
			closedWithin(t, c, start, testLimits.Request-tick, testLimits.Request+slack)
			wantPhases(t, closed, Request)
		})
		t.Run(name+": an idle connection, after the idle limit", func(t *testing.T) {
			t.Parallel()
			addr, closed := serve(t, secure, ok)
			c := dial(t, addr, secure)
			roundTrip(t, c)
			closedWithin(t, c, time.Now(), testLimits.Idle-tick, testLimits.Idle+slack)
			wantPhases(t, closed, Idle)
		})
		t.Run(name+": a call not answered in time, after the answer limit", func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			defer close(release)
			addr, closed := serve(t, secure, func(w http.ResponseWriter, r *http.Request) { <-release })
			c := dial(t, addr, secure)
			start := time.Now()
			if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			closedWithin(t, c, start, testLimits.Answer-tick, testLimits.Answer+slack)
			wantPhases(t, closed, Answer)
		})
	}
}

// TestReadAhead checks the one case where a request may be bounded by the idle limit instead
// of the request limit: its first bytes arrived while the server still finished the previous
// call (net/http reads ahead then, to notice a client hanging up), and that read took all the
// bytes sent (over TLS, a whole record), so that no later read shows the request begun. Its
// connection is still closed, as an idle one would be.
func TestReadAhead(t *testing.T) {
	t.Parallel()
	addr, closed := serve(t, true, ok)
	c := dial(t, addr, true)
	// The next request's first line goes in the same write as the call before it: it reaches
	// the server while it answers.
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nPOST / HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	closedWithin(t, c, start, testLimits.Request-tick, testLimits.Idle+slack)
	for deadline := time.Now().Add(time.Second); len(closed.all()) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // onClose runs right after the close
	}
	if got := closed.all(); len(got) != 1 || got[0] == Answer {
		t.Fatalf("the watch closed connections in phases %v, want one, idle or request", got)
	}
}

// TestKeepsBusyConnections checks that a connection used without pause stays open for far
// longer than every limit, each request of it moving it from phase to phase.
func TestKeepsBusyConnections(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP", true: "HTTPS"}[secure], func(t *testing.T) {
			t.Parallel()
			addr, closed := serve(t, secure, ok)
			c := dial(t, addr, secure)
			longest := max(testLimits.Request, testLimits.Answer, testLimits.Idle)
			for start := time.Now(); time.Since(start) < 3*longest; {
				roundTrip(t, c)
				time.Sleep(testLimits.Request / 5)
			}
			if got := closed.all(); len(got) != 0 {
				t.Fatalf("the watch closed %v", got)
			}
		})
	}
}

// TestForgetsClosedConnections checks that connections the client closes leave the watch.
func TestForgetsClosedConnections(t *testing.T) {
	t.Parallel()
	w := New(testLimits, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(ok), ConnState: w.ConnState}
	go func() { _ = srv.Serve(w.Listener(ln)) }()
	defer func() { _ = srv.Close() }()
	for range 20 {
		c := dial(t, ln.Addr().String(), false)
		roundTrip(t, c)
		_ = c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.tracked() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still watched after their clients closed them", w.tracked())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitIdle waits until w's only connection is idle.
func waitIdle(t *testing.T, w *Watch) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		w.mu.Lock()
		idle := false
		for c := range w.conns {
			p, _ := c.phase()
			idle = p == Idle
		}
		w.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection did not become idle")
		}
	}
}

func (w *Watch) tracked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.conns)
}

// roundTrip sends a request on c and reads its answer.
func roundTrip(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func wantPhases(t *testing.T, closed *closes, want ...Phase) {
	t.Helper()
	deadline := time.Now().Add(time.Second) // onClose runs right after the close
	for len(closed.all()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := closed.all(); !slices.Equal(got, want) {
		t.Fatalf("the watch closed connections in phases %v, want %v", got, want)
	}
}

// TestFlowingBodyOutlivesTheAnswerLimit checks that a request whose body keeps arriving (an
// upload) stays open for far longer than the answer limit when its handler says it flows, and
// that it is closed once the body stalls.
func TestFlowingBodyOutlivesTheAnswerLimit(t *testing.T) {
	t.Parallel()
	closed := &closes{}
	w := New(testLimits, closed.add)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ConnState: w.ConnState, ConnContext: WithConn,
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			buf, flowing := make([]byte, 16), Flowing(r.Context())
			for {
				_, err := r.Body.Read(buf)
				flowing()
				if err != nil {
					break
				}
			}
			rw.WriteHeader(http.StatusOK)
		})}
	ctx, cancel := context.WithCancel(context.Background())
	go w.Run(ctx)
	go func() { _ = srv.Serve(w.Listener(ln)) }()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
	})
	c := dial(t, ln.Addr().String(), false)
	if _, err := io.WriteString(c, "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for start := time.Now(); time.Since(start) < 3*testLimits.Answer; time.Sleep(testLimits.Answer / 5) {
		if _, err := io.WriteString(c, "1\r\nx\r\n"); err != nil {
			t.Fatalf("the connection was closed while its body flowed: %v", err)
		}
		last = time.Now()
	}
	if got := closed.all(); len(got) != 0 {
		t.Fatalf("the watch closed %v while the body flowed", got)
	}
	closedWithin(t, c, last, testLimits.Answer-tick, testLimits.Answer+slack)
	wantPhases(t, closed, Answer)
}

// sendCounter is a reader that counts how often it is told bytes were sent from it.
type sendCounter struct {
	io.Reader
	sent int
}

func (s *sendCounter) Sent() { s.sent++ }

// TestReadFromSendsThroughTheConnectionInChunks checks that a watched connection hands a body
// to the TCP connection's own ReadFrom (sendfile, for a file), whole, in chunks, the first
// the smallest, telling its reader after each, and updating the LimitedReader it was given.
func TestReadFromSendsThroughTheConnectionInChunks(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, bytes.Repeat([]byte("0123456789abcdef"), 4*minChunk/16), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		src   func() io.Reader
		limit int64 // -1: no io.LimitedReader
		want  int64
	}{
		{"a limited body", func() io.Reader {
			return &sendCounter{Reader: bytes.NewReader(make([]byte, 8*minChunk))}
		}, 5*minChunk + 100, 5*minChunk + 100},
		{"a body read to its end", func() io.Reader {
			return &sendCounter{Reader: bytes.NewReader(make([]byte, 3*minChunk+7))}
		}, -1, 3*minChunk + 7},
		{"a file, as net's sendfile takes it", func() io.Reader {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = f.Close() })
			return f
		}, 3*minChunk + 5, 3*minChunk + 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := watchedPair(t, New(testLimits, nil))
			received := make(chan int64, 1)
			go func() {
				n, _ := io.Copy(io.Discard, client)
				received <- n
			}()
			src := tc.src()
			r := src
			lr := &io.LimitedReader{R: src, N: tc.limit}
			if tc.limit >= 0 {
				r = lr
			}
			n, err := server.(io.ReaderFrom).ReadFrom(r)
			_ = server.Close()
			if err != nil || n != tc.want {
				t.Fatalf("ReadFrom = %d, %v; want %d", n, err, tc.want)
			}
			if got := <-received; got != tc.want {
				t.Errorf("the other end received %d bytes, want %d", got, tc.want)
			}
			if tc.limit >= 0 && lr.N != tc.limit-tc.want {
				t.Errorf("the LimitedReader has %d left, want %d", lr.N, tc.limit-tc.want)
			}
			// The first chunk is the smallest, so a body of more takes two chunks at least.
			if s, ok := src.(*sendCounter); ok && (s.sent < 2 || s.sent > int(tc.want/minChunk)+1) {
				t.Errorf("the reader was told of sends %d times, want 2..%d", s.sent, tc.want/minChunk+1)
			}
		})
	}
}

// TestReadFromKeepsASlowClient checks that a body sent to a client slower than a large chunk
// per answer limit is not cut: its chunks shrink.
func TestReadFromKeepsASlowClient(t *testing.T) {
	t.Parallel()
	closed := &closes{}
	w := New(testLimits, closed.add)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	server, client := watchedPair(t, w)
	// Small socket buffers, so that the server sends as the client reads.
	_ = server.(interface{ NetConn() net.Conn }).NetConn().(*net.TCPConn).SetWriteBuffer(16 << 10)
	_ = client.(*net.TCPConn).SetReadBuffer(16 << 10)
	const size = 2 << 20 // at 16 KiB a 20 ms, 2.5 s: a 4 MiB chunk would be cut
	received := make(chan int64, 1)
	go func() {
		var n int64
		buf := make([]byte, 16<<10)
		for {
			m, err := client.Read(buf)
			n += int64(m)
			if err != nil {
				received <- n
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	n, err := server.(io.ReaderFrom).ReadFrom(&io.LimitedReader{R: bytes.NewReader(make([]byte, size)), N: size})
	_ = server.Close()
	if err != nil || n != size {
		t.Fatalf("ReadFrom to a slow client = %d, %v; want %d", n, err, size)
	}
	if got := <-received; got != size {
		t.Fatalf("the slow client received %d bytes, want %d", got, size)
	}
	if got := closed.all(); len(got) != 0 {
		t.Fatalf("the watch closed %v while the body flowed", got)
	}
}

func TestNextChunk(t *testing.T) {
	limited := New(Limits{Answer: 32 * time.Second}, nil)
	for _, tc := range []struct {
		name string
		w    *Watch
		size int64
		took time.Duration
		want int64
	}{
		{"a chunk sent within a 32nd of the limit doubles", limited, minChunk, 500 * time.Millisecond, 2 * minChunk},
		{"no larger than the most", limited, maxChunk, time.Millisecond, maxChunk},
		{"a chunk that took over an eighth of the limit halves", limited, maxChunk, 5 * time.Second, maxChunk / 2},
		{"no smaller than the least", limited, minChunk, time.Minute, minChunk},
		{"in between it stays", limited, 1 << 20, 2 * time.Second, 1 << 20},
		{"without an answer limit it stays", New(Limits{}, nil), maxChunk, time.Minute, maxChunk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.w.nextChunk(tc.size, tc.took); got != tc.want {
				t.Errorf("nextChunk(%d, %v) = %d, want %d", tc.size, tc.took, got, tc.want)
			}
		})
	}
	if got := limited.firstChunk(); got != minChunk {
		t.Errorf("the first chunk with an answer limit is %d, want the least, %d", got, minChunk)
	}
}

// watchedPair returns the server end of a TCP connection accepted through w, and its client
// end.
func watchedPair(t *testing.T, w *Watch) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := w.Listener(ln)
	t.Cleanup(func() { _ = wl.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := wl.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("the watch's listener accepted nothing")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return server, client
}

// smallBuffers gives each connection it accepts a small send buffer, so that a client's pace
// reaches the server within a few reads, as it would through a long or slow path.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(32 << 10)
	}
	return c, err
}

// closing is a connection the watch closed: in which phase, when.
type closing struct {
	phase Phase
	at    time.Time
}

// serveFileSlowly serves file over a watched listener whose connections have small send buffers,
// and returns its address and the connections its watch closes.
func serveFileSlowly(t *testing.T, file string) (string, <-chan closing) {
	t.Helper()
	closed := make(chan closing, 4)
	w := New(testLimits, func(p Phase) { closed <- closing{p, time.Now()} })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ConnState: w.ConnState, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.ServeFile(rw, r, file) // an *os.File, which net/http hands to the connection's ReadFrom
	})}
	ctx, cancel := context.WithCancel(context.Background())
	go w.Run(ctx)
	go func() { _ = srv.Serve(w.Listener(smallBuffers{ln})) }()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
	})
	return ln.Addr().String(), closed
}

// TestReadFromKeepsAClientThatSlowsDown checks, over real HTTP, that a file sent with sendfile
// to a client that takes its first MiBs at once and the rest at a slow steady pace is not cut,
// although a chunk grown while the client was fast takes it several answer limits: bytes leave
// the connection all along. A client that stops reading is cut once none left it for the answer
// limit.
func TestReadFromKeepsAClientThatSlowsDown(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux tells what a client acknowledged (TCP_INFO); elsewhere a chunk must be taken within the answer limit")
	}
	t.Parallel()
	const (
		fast = 8 << 20 // taken at once: the chunks grow to their largest
		slow = 3 << 19 // taken at slowPace: several answer limits
		// Loopback's segments are of 64 KiB, so the client's kernel takes bytes 64 KiB at a
		// time: a step of half that keeps them leaving far more often than the answer limit.
		step = 32 << 10
	)
	slowPace := testLimits.Answer / 10 // a step each: about 512 KiB/s, a 4 MiB chunk in 8 s
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, make([]byte, fast+slow), 0o600); err != nil {
		t.Fatal(err)
	}
	// get asks addr for the file and reads its first bytes at once.
	get := func(t *testing.T, addr string) io.Reader {
		c := dial(t, addr, false)
		_ = c.(*net.TCPConn).SetReadBuffer(32 << 10)
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, fast); err != nil {
			t.Fatalf("reading the first %d bytes: %v", fast, err)
		}
		return resp.Body
	}

	t.Run("a client that slows down is kept", func(t *testing.T) {
		t.Parallel()
		addr, closed := serveFileSlowly(t, file)
		body := get(t, addr)
		var n int64
		for {
			m, err := io.CopyN(io.Discard, body, step)
			n += m
			if err == io.EOF && n == slow {
				break
			}
			if err != nil {
				t.Fatalf("the download was cut after %d of the %d bytes read at a slow pace: %v", n, slow, err)
			}
			time.Sleep(slowPace)
		}
		// Once answered the connection is idle, and may be closed as such while the client
		// still reads what its buffers hold.
		for len(closed) > 0 {
			if c := <-closed; c.phase == Answer {
				t.Fatalf("the watch closed the connection in phase %v while bytes flowed", c.phase)
			}
		}
	})
	t.Run("a client that stops reading is cut", func(t *testing.T) {
		t.Parallel()
		addr, closed := serveFileSlowly(t, file)
		get(t, addr)
		stopped := time.Now()
		select {
		case c := <-closed:
			if c.phase != Answer {
				t.Fatalf("the watch closed the connection in phase %v, want %v", c.phase, Answer)
			}
			// Its last bytes left as the buffers filled, when it stopped or after.
			if took := c.at.Sub(stopped); took < testLimits.Answer-tick {
				t.Fatalf("the connection was cut %v after its client stopped, before the answer limit", took)
			}
		case <-time.After(2*testLimits.Answer + slack):
			t.Fatalf("the connection was still open %v after its client stopped reading", 2*testLimits.Answer+slack)
		}
	})
}

// netConnOf is a wrapper that shows what it wraps, as tls.Conn and the admission caps' do.
type netConnOf struct{ net.Conn }

func (w netConnOf) NetConn() net.Conn { return w.Conn }

// TestRawConnFindsTheSocketUnderWrappers checks that the watch finds the socket it asks the
// kernel about under the wrappers between it and the listener, and none where there is none.
func TestRawConnFindsTheSocketUnderWrappers(t *testing.T) {
	server, _ := watchedPair(t, New(testLimits, nil))
	tcp := server.(*conn).Conn
	pipe, other := net.Pipe()
	t.Cleanup(func() { _ = pipe.Close(); _ = other.Close() })
	for _, tc := range []struct {
		name string
		c    net.Conn
		want bool
	}{
		{"a TCP connection", tcp, true},
		{"a TCP connection under wrappers", netConnOf{netConnOf{tcp}}, true},
		{"a connection with no socket", netConnOf{pipe}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawConn(tc.c) != nil; got != tc.want {
				t.Errorf("rawConn found a socket: %v, want %v", got, tc.want)
			}
		})
	}
}
