// Package admit caps what clients hold of a server at once, in total and per source: its open
// connections and its requests in flight. The source is a connection's remote IP, which a
// client cannot forge as it can a header. Past a cap a client is refused at once, never queued:
// a queue would let a flood hold everyone else's place, and a refusal tells the client to come
// back.
package admit

import (
	"errors"
	"net"
	"net/netip"
	"sync"
)

// Caps bound how many of something are held at once: in all, and by one source. A cap of zero
// or less is no cap.
type Caps struct {
	Total, PerSource int
}

// Or returns c with its zero fields taken from defaults.
func (c Caps) Or(defaults Caps) Caps {
	if c.Total == 0 {
		c.Total = defaults.Total
	}
	if c.PerSource == 0 {
		c.PerSource = defaults.PerSource
	}
	return c
}

// The defaults of the REST server. A source is a pod, a node or a load balancer, so the caps per
// source leave room for many clients behind one address: make bench drives 256 clients, each
// on a kept-alive connection, from one host.
var (
	// DefaultConnections are the caps on open connections. Connections past a cap are still
	// accepted, up to twice it, to be answered. Twice the total, at a few tens of KiB a
	// connection (its goroutine, buffers and TLS state), stays within the shipped memory limit.
	DefaultConnections = Caps{Total: 2048, PerSource: 512}
	// DefaultRequests are the caps on requests in flight. An HTTP/1 connection carries one
	// request at a time, so a source's requests in flight never pass its connections; the caps
	// bound what the requests hold at once (a goroutine, a body, API-server calls), well above
	// what one replica's CPU keeps in flight.
	DefaultRequests = Caps{Total: 1024, PerSource: 256}
)

// Why a Counter refuses.
var (
	ErrTotal     = errors.New("the cap on all sources is reached")
	ErrPerSource = errors.New("the cap on one source is reached")
)

// Counter counts what each source holds, refusing past its caps. Its memory is bounded by what
// is held: a source that holds nothing has no entry.
type Counter struct {
	caps Caps

	mu    sync.Mutex
	total int
	held  map[netip.Addr]int
}

// NewCounter returns a counter refusing past caps.
func NewCounter(caps Caps) *Counter {
	return &Counter{caps: caps, held: map[netip.Addr]int{}}
}

// Acquire counts one more held by src, unless that would pass a cap: then it counts nothing and
// returns ErrPerSource or ErrTotal, the source's own cap first.
func (c *Counter) Acquire(src netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.held[src]
	switch {
	case c.caps.PerSource > 0 && n >= c.caps.PerSource:
		return ErrPerSource
	case c.caps.Total > 0 && c.total >= c.caps.Total:
		return ErrTotal
	}
	c.held[src] = n + 1
	c.total++
	return nil
}

// Release uncounts one that Acquire counted for src.
func (c *Counter) Release(src netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if n := c.held[src] - 1; n > 0 {
		c.held[src] = n
	} else {
		delete(c.held, src)
	}
}

// Source is the source of a connection with remote address addr: its IP, IPv4 as IPv4 even on
// an IPv6 socket. Addresses that are not IP share the zero Addr.
func Source(addr net.Addr) netip.Addr {
	if a, ok := addr.(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	if addr == nil {
		return netip.Addr{}
	}
	return SourceOf(addr.String())
}

// SourceOf is the source of a request with RemoteAddr remote ("ip:port").
func SourceOf(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
