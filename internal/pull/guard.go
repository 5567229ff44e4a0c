package pull

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// ErrRefused is what a connection to an address a PULL may not reach fails with; the error
// itself is a *RefusedError naming the address and why.
var ErrRefused = errors.New("pull: address refused")

// RefusedError says a PULL was refused a connection to Addr, a resolved address.
type RefusedError struct {
	Addr netip.Addr
	// Reason names the class of address: "loopback", "link-local (cloud metadata)", ...
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("connecting to %s is refused: it is a %s address, which a pull may not reach "+
		"(see --content-pull-allowed-cidrs)", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// refusedRange is a range of addresses no PULL reaches unless allowed.
type refusedRange struct {
	prefix netip.Prefix
	reason string
}

// refusedRanges are the ranges a PULL may not reach: what the operator's pod can reach and its
// caller, somewhere on the internet, could not. Order matters only for the reason given.
var refusedRanges = func() []refusedRange {
	const private = "private"
	table := []struct{ cidr, reason string }{
		{"0.0.0.0/8", "unspecified"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local (cloud metadata)"},
		{"10.0.0.0/8", private},
		{"172.16.0.0/12", private},
		{"192.168.0.0/16", private},
		{"100.64.0.0/10", "shared (carrier-grade NAT)"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "broadcast"},
		{"240.0.0.0/4", "reserved"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"fc00::/7", "unique local (private)"},
		{"ff00::/8", "multicast"},
	}
	ranges := make([]refusedRange, len(table))
	for i, r := range table {
		ranges[i] = refusedRange{netip.MustParsePrefix(r.cidr), r.reason}
	}
	return ranges
}()

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4 address in their last
// four bytes, which is checked as if dialed directly.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Guard decides which addresses a PULL may connect to. Its zero value refuses the built-in
// ranges only.
type Guard struct {
	// Allowed are ranges reached even if refused otherwise (--content-pull-allowed-cidrs).
	Allowed []netip.Prefix
	// Refused are more addresses to refuse: the API server's and the kubernetes Service's,
	// which may well be public.
	Refused []netip.Addr
}

// Check returns a *RefusedError if a PULL may not connect to addr.
func (g *Guard) Check(addr netip.Addr) error {
	addr = addr.WithZone("").Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		addr = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, p := range g.Allowed {
		if p.Contains(addr) {
			return nil
		}
	}
	for _, a := range g.Refused {
		if a.WithZone("").Unmap() == addr {
			return &RefusedError{Addr: addr, Reason: "cluster-internal (the API server's)"}
		}
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(addr) {
			return &RefusedError{Addr: addr, Reason: r.reason}
		}
	}
	return nil
}

// control is a net.Dialer's Control: it runs for every connection, after DNS resolution and
// before connect, so that neither a name nor a redirect can lead a PULL where Check refuses.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("pull: connecting to %q: %w", address, err)
	}
	return g.Check(ap.Addr())
}

// ParseCIDRs parses a comma-separated list of CIDRs, as --content-pull-allowed-cidrs takes it; a
// bare address stands for itself alone.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an address", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
