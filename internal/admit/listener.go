package admit

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
)

// Listener caps the connections ln keeps open. A connection within caps is served as usual. One
// past them is still accepted, up to caps again, so that it can be told why it is refused (see
// ConnContext and Refused) rather than be cut without a word; one past that too is closed at
// accept, so that a flood of connections cannot exhaust the process's file descriptors or
// memory. onRefuse, if not nil, is told of each connection past caps, answered or closed.
//
// Under TLS, wrap the TLS listener around this one (and around any other that passes
// connections through with a NetConn method, as tls.Conn has), so that a connection refused at
// accept costs no handshake.
func Listener(ln net.Listener, caps Caps, onRefuse func()) net.Listener {
	if onRefuse == nil {
		onRefuse = func() {}
	}
	return &listener{Listener: ln, within: NewCounter(caps), over: NewCounter(caps), onRefuse: onRefuse}
}

type listener struct {
	net.Listener
	// within counts the connections served; over those past caps, accepted to be refused.
	within, over *Counter
	onRefuse     func()
}

// Accept returns the next connection within caps, or past them but within twice them; it
// closes the others as it meets them.
func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := Source(nc.RemoteAddr())
		why := l.within.Acquire(src)
		if why == nil {
			return &conn{Conn: nc, src: src, counter: l.within}, nil
		}
		l.onRefuse()
		if l.over.Acquire(src) == nil {
			return &conn{Conn: nc, src: src, counter: l.over, refused: why}, nil
		}
		_ = nc.Close()
	}
}

// conn is a counted connection.
type conn struct {
	net.Conn
	src     netip.Addr
	counter *Counter
	// refused is why the connection is past caps; nil when it is within them.
	refused error
	closed  atomic.Bool
}

// ReadFrom lets net/http hand a response body to the connection below (a TCPConn's ReadFrom:
// sendfile from a file), which the wrapper would otherwise hide.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// NetConn returns the connection it counts, as tls.Conn's NetConn does, for whoever looks for
// the socket under its wrappers (the connection watch asks it what the client took).
func (c *conn) NetConn() net.Conn { return c.Conn }

// Close uncounts the connection the first time it is called, whoever calls it.
func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.counter.Release(c.src)
	}
	return c.Conn.Close()
}

type refusedKey struct{}

// ConnContext marks the context of a connection accepted past its caps with why; set it as the
// server's http.Server.ConnContext, and answer the requests of such a connection with a
// refusal (see Refused). It finds the connection under any wrapper with a NetConn method.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	for {
		switch v := c.(type) {
		case *conn:
			if v.refused != nil {
				return context.WithValue(ctx, refusedKey{}, v.refused)
			}
			return ctx
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return ctx
		}
	}
}

// Refused returns why the connection of a request's context was accepted past its caps
// (ErrPerSource or ErrTotal), or nil when it is within them.
func Refused(ctx context.Context) error {
	err, _ := ctx.Value(refusedKey{}).(error)
	return err
}
