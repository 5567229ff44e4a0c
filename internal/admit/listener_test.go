package admit

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// wait is how long a test waits for what should happen at once: long, for a busy machine.
const wait = 30 * time.Second

// TestListenerShowsTheConnectionBelow checks that a wrapper above the listener's connections
// finds the socket under them, as the connection watch does.
func TestListenerShowsTheConnectionBelow(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	capped := Listener(ln, Caps{Total: 10, PerSource: 10}, nil)
	t.Cleanup(func() { _ = capped.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := capped.Accept()
		accepted <- c
	}()
	dial(t, ln.Addr().String(), "127.0.0.1")
	c := <-accepted
	if c == nil {
		t.Fatal("nothing accepted")
	}
	t.Cleanup(func() { _ = c.Close() })
	wrapped, ok := c.(interface{ NetConn() net.Conn })
	if !ok {
		t.Fatalf("the accepted %T has no NetConn", c)
	}
	if _, ok := wrapped.NetConn().(*net.TCPConn); !ok {
		t.Fatalf("NetConn returned a %T, not the TCP connection", wrapped.NetConn())
	}
}

// TestListenerCapsPerSource dials real connections from two loopback addresses: the second
// connection from one is accepted as refused, the third closed at accept, while the other
// address is still served; closing a connection frees its place.
func TestListenerCapsPerSource(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("dials from 127.0.0.2, which only Linux routes to loopback without setup")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int32
	capped := Listener(ln, Caps{Total: 10, PerSource: 1}, func() { refused.Add(1) })
	t.Cleanup(func() { _ = capped.Close() })
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := capped.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	next := func(what string) net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(wait):
			t.Fatalf("%s: not accepted", what)
			return nil
		}
	}
	refusal := func(c net.Conn) error { return Refused(ConnContext(context.Background(), c)) }
	dialFrom := func(ip string) net.Conn { return dial(t, ln.Addr().String(), ip) }

	dialFrom("127.0.0.1")
	first := next("the first connection from 127.0.0.1")
	if err := refusal(first); err != nil {
		t.Errorf("the first connection from 127.0.0.1 is refused: %v", err)
	}
	dialFrom("127.0.0.1")
	second := next("the second connection from 127.0.0.1")
	if err := refusal(second); !errors.Is(err, ErrPerSource) {
		t.Errorf("the second connection from 127.0.0.1 is refused with %v, want %v", err, ErrPerSource)
	}
	// Under TLS the server sees a tls.Conn, with the counted connection under it.
	if err := refusal(tls.Server(second, &tls.Config{})); !errors.Is(err, ErrPerSource) {
		t.Errorf("the second connection under TLS is refused with %v, want %v", err, ErrPerSource)
	}
	third := dialFrom("127.0.0.1")
	_ = third.SetReadDeadline(time.Now().Add(wait))
	if _, err := third.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the third connection from 127.0.0.1 reads %v, want it closed at accept", err)
	}

	dialFrom("127.0.0.2")
	if err := refusal(next("the first connection from 127.0.0.2")); err != nil {
		t.Errorf("the first connection from 127.0.0.2 is refused: %v", err)
	}
	if n := refused.Load(); n != 2 {
		t.Errorf("told of %d connections refused, want 2", n)
	}

	_ = first.Close()
	_ = first.Close() // a second close frees nothing more
	dialFrom("127.0.0.1")
	if err := refusal(next("a connection from 127.0.0.1 after one closed")); err != nil {
		t.Errorf("a connection from 127.0.0.1 after one closed is refused: %v", err)
	}
	_ = second.Close() // frees a place past the cap
	dialFrom("127.0.0.1")
	if err := refusal(next("one more from 127.0.0.1")); !errors.Is(err, ErrPerSource) {
		t.Errorf("one more from 127.0.0.1 is refused with %v, want %v", err, ErrPerSource)
	}
}

// TestListenerCapsTotal: past the total, every source is refused; past twice it, closed.
func TestListenerCapsTotal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	capped := Listener(ln, Caps{Total: 2}, nil)
	t.Cleanup(func() { _ = capped.Close() })
	want := []error{nil, nil, ErrTotal, ErrTotal}
	for i, w := range want {
		dial(t, ln.Addr().String(), "127.0.0.1")
		c, err := capped.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if got := Refused(ConnContext(context.Background(), c)); !errors.Is(got, w) {
			t.Errorf("connection %d refused with %v, want %v", i, got, w)
		}
	}
	closed := dial(t, ln.Addr().String(), "127.0.0.1")
	_ = closed.SetReadDeadline(time.Now().Add(wait))
	go func() { _, _ = capped.Accept() }() // closes it, then waits for a next one
	if _, err := closed.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a connection past twice the total reads %v, want it closed at accept", err)
	}
}

// dial connects to addr from local address ip.
func dial(t *testing.T, addr, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: wait}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing %s from %s: %v", addr, ip, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
