package testenv

import (
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// Proxy forwards TCP connections to the API server until it is blocked: then it cuts every
// connection and refuses new ones, as an unreachable API server would. It can also hold what
// clients send for a while, as a slow API server would: requests then take that much longer,
// while what the API server sends (watch events among it) flows as before.
type Proxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	blocked bool
	conns   map[net.Conn]struct{}
	// delay is how long what clients send is held before it is forwarded, in nanoseconds.
	delay atomic.Int64
}

// Proxy starts a proxy to the API server and returns it with an admin connection through it.
func (e *Env) Proxy(t testing.TB) (*Proxy, *rest.Config) {
	t.Helper()
	u, err := url.Parse(e.CP.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: u.Host, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { _ = ln.Close(); p.Block() })
	go p.serve()
	cfg := rest.CopyConfig(e.CP.Config)
	cfg.Host = "https://" + ln.Addr().String()
	return p, cfg
}

func (p *Proxy) serve() {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.blocked {
			p.mu.Unlock()
			_ = conn.Close()
			continue
		}
		p.conns[conn] = struct{}{}
		p.mu.Unlock()
		go p.forward(conn)
	}
}

func (p *Proxy) forward(conn net.Conn) {
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = conn.Close()
		return
	}
	p.mu.Lock()
	p.conns[upstream] = struct{}{}
	p.mu.Unlock()
	go func() { p.copyDelayed(upstream, conn); _ = upstream.Close() }()
	_, _ = io.Copy(conn, upstream)
	_ = conn.Close()
}

// chunk is what a client sent in one read, and when it arrived.
type chunk struct {
	data []byte
	at   time.Time
}

// copyDelayed copies from src to dst, forwarding each chunk the delay after it arrived: a
// pipeline, so that what a client sends meanwhile is held no longer than that.
func (p *Proxy) copyDelayed(dst io.Writer, src io.Reader) {
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{buf[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.at.Add(time.Duration(p.delay.Load()))))
		if _, err := dst.Write(c.data); err != nil {
			for range chunks { // let the reader finish
			}
			return
		}
	}
}

// Delay holds what clients send for d before it is forwarded (0: not at all).
func (p *Proxy) Delay(d time.Duration) { p.delay.Store(int64(d)) }

// Block cuts every connection and refuses new ones.
func (p *Proxy) Block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Unblock lets connections through again.
func (p *Proxy) Unblock() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = false
}
