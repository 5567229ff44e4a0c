package pull

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGuardCheck(t *testing.T) {
	apiServer := netip.MustParseAddr("203.0.113.10")
	service := netip.MustParseAddr("2001:db8::1")
	cases := []struct {
		name    string
		addr    string
		allowed string
		reason  string // empty: allowed
	}{
		{name: "a public IPv4 address is reached", addr: "93.184.215.14"},
		{name: "a public IPv6 address is reached", addr: "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		{name: "loopback", addr: "127.0.0.1", reason: "loopback"},
		{name: "loopback anywhere in 127/8", addr: "127.10.0.2", reason: "loopback"},
		{name: "IPv6 loopback", addr: "::1", reason: "loopback"},
		{name: "IPv4-mapped loopback", addr: "::ffff:127.0.0.1", reason: "loopback"},
		{name: "cloud metadata", addr: "169.254.169.254", reason: "link-local (cloud metadata)"},
		{name: "IPv4-mapped cloud metadata", addr: "::ffff:169.254.169.254", reason: "link-local (cloud metadata)"},
		{name: "NAT64 of cloud metadata", addr: "64:ff9b::a9fe:a9fe", reason: "link-local (cloud metadata)"},
		{name: "NAT64 of a public address is reached", addr: "64:ff9b::5db8:d70e"},
		{name: "IPv6 link-local", addr: "fe80::1", reason: "link-local"},
		{name: "IPv6 link-local with a zone", addr: "fe80::1%eth0", reason: "link-local"},
		{name: "unspecified", addr: "0.0.0.0", reason: "unspecified"},
		{name: "this network", addr: "0.1.2.3", reason: "unspecified"},
		{name: "IPv6 unspecified", addr: "::", reason: "unspecified"},
		{name: "multicast", addr: "224.0.0.1", reason: "multicast"},
		{name: "IPv6 multicast", addr: "ff02::1", reason: "multicast"},
		{name: "broadcast", addr: "255.255.255.255", reason: "broadcast"},
		{name: "reserved", addr: "240.0.0.1", reason: "reserved"},
		{name: "private 10/8", addr: "10.96.0.1", reason: "private"},
		{name: "private 172.16/12", addr: "172.31.255.255", reason: "private"},
		{name: "172.32 is not private", addr: "172.32.0.1"},
		{name: "private 192.168/16", addr: "192.168.1.1", reason: "private"},
		{name: "IPv4-mapped private", addr: "::ffff:10.0.0.1", reason: "private"},
		{name: "carrier-grade NAT", addr: "100.64.0.1", reason: "shared (carrier-grade NAT)"},
		{name: "unique local", addr: "fd00:ec2::254", reason: "unique local (private)"},
		{name: "the API server's address", addr: "203.0.113.10", reason: "cluster-internal (the API server's)"},
		{name: "the API server's address, IPv4-mapped", addr: "::ffff:203.0.113.10", reason: "cluster-internal (the API server's)"},
		{name: "the Service's address", addr: "2001:db8::1", reason: "cluster-internal (the API server's)"},
		{name: "loopback allowed by its /32", addr: "127.0.0.1", allowed: "127.0.0.1/32"},
		{name: "another loopback address not allowed by that /32", addr: "127.0.0.2", allowed: "127.0.0.1/32", reason: "loopback"},
		{name: "IPv4-mapped loopback allowed by the IPv4 range", addr: "::ffff:127.0.0.1", allowed: "127.0.0.0/8"},
		{name: "private allowed by its range", addr: "10.1.2.3", allowed: "10.0.0.0/8"},
		{name: "the API server's address allowed explicitly", addr: "203.0.113.10", allowed: "203.0.113.10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			allowed, err := ParseCIDRs(tc.allowed)
			if err != nil {
				t.Fatal(err)
			}
			g := Guard{Allowed: allowed, Refused: []netip.Addr{apiServer, service}}
			err = g.Check(netip.MustParseAddr(tc.addr))
			var refused *RefusedError
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("Check(%s) = %v, want nil", tc.addr, err)
			case tc.reason != "" && !errors.As(err, &refused):
				t.Fatalf("Check(%s) = %v, want a *RefusedError", tc.addr, err)
			case tc.reason != "":
				if refused.Reason != tc.reason {
					t.Errorf("reason %q, want %q", refused.Reason, tc.reason)
				}
				if !errors.Is(err, ErrRefused) {
					t.Errorf("errors.Is(%v, ErrRefused) = false", err)
				}
			}
		})
	}
}

func TestParseCIDRs(t *testing.T) {
	cases := []struct {
		in      string
		want    []netip.Prefix
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "127.0.0.1/32", want: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		{in: " 10.0.0.1/8 , ::1 ", want: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"),
		}},
		{in: "192.168.0.5", want: []netip.Prefix{netip.MustParsePrefix("192.168.0.5/32")}},
		{in: "10.0.0.0/33", wantErr: true},
		{in: "example.com", wantErr: true},
	}
	for _, tc := range cases {
		got, err := ParseCIDRs(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseCIDRs(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("ParseCIDRs(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}
