package admit

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

var (
	a = netip.MustParseAddr("10.0.0.1")
	b = netip.MustParseAddr("10.0.0.2")
	c = netip.MustParseAddr("fd00::3")
)

// step acquires (or, with release, releases) one for src; want is what Acquire returns.
type step struct {
	src     netip.Addr
	release bool
	want    error
}

func TestCounter(t *testing.T) {
	cases := []struct {
		name  string
		caps  Caps
		steps []step
		// held is what each source holds at the end.
		held map[netip.Addr]int
	}{{
		name:  "a source past its own cap is refused while another is served",
		caps:  Caps{Total: 10, PerSource: 2},
		steps: []step{{src: a}, {src: a}, {src: a, want: ErrPerSource}, {src: b}, {src: a, want: ErrPerSource}},
		held:  map[netip.Addr]int{a: 2, b: 1},
	}, {
		name:  "every source is refused past the total, even one that holds nothing",
		caps:  Caps{Total: 3, PerSource: 2},
		steps: []step{{src: a}, {src: a}, {src: b}, {src: b, want: ErrTotal}, {src: c, want: ErrTotal}},
		held:  map[netip.Addr]int{a: 2, b: 1},
	}, {
		name:  "a source past its own cap hears so even when the total is reached",
		caps:  Caps{Total: 2, PerSource: 2},
		steps: []step{{src: a}, {src: a}, {src: a, want: ErrPerSource}},
		held:  map[netip.Addr]int{a: 2},
	}, {
		name: "a release frees a place for its source and in the total",
		caps: Caps{Total: 2, PerSource: 1},
		steps: []step{{src: a}, {src: b}, {src: c, want: ErrTotal}, {src: a, release: true}, {src: c},
			{src: b, want: ErrPerSource}, {src: b, release: true}, {src: b}},
		held: map[netip.Addr]int{b: 1, c: 1},
	}, {
		name:  "a source that holds nothing any more has no entry",
		caps:  Caps{Total: 4, PerSource: 2},
		steps: []step{{src: a}, {src: b}, {src: a}, {src: a, release: true}, {src: b, release: true}, {src: a, release: true}},
		held:  map[netip.Addr]int{},
	}, {
		name:  "zero caps are no caps",
		caps:  Caps{},
		steps: []step{{src: a}, {src: a}, {src: a}, {src: b}},
		held:  map[netip.Addr]int{a: 3, b: 1},
	}, {
		name:  "a cap per source alone",
		caps:  Caps{PerSource: 1},
		steps: []step{{src: a}, {src: b}, {src: c}, {src: a, want: ErrPerSource}},
		held:  map[netip.Addr]int{a: 1, b: 1, c: 1},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			counter := NewCounter(tc.caps)
			for i, s := range tc.steps {
				if s.release {
					counter.Release(s.src)
					continue
				}
				if err := counter.Acquire(s.src); !errors.Is(err, s.want) {
					t.Errorf("step %d: Acquire(%s) = %v, want %v", i, s.src, err, s.want)
				}
			}
			total := 0
			for _, n := range tc.held {
				total += n
			}
			if len(counter.held) != len(tc.held) || counter.total != total {
				t.Errorf("holds %v (total %d), want %v", counter.held, counter.total, tc.held)
			}
			for src, n := range tc.held {
				if counter.held[src] != n {
					t.Errorf("%s holds %d, want %d", src, counter.held[src], n)
				}
			}
		})
	}
}

func TestCapsOr(t *testing.T) {
	defaults := Caps{Total: 100, PerSource: 10}
	cases := []struct{ in, want Caps }{
		{Caps{}, defaults},
		{Caps{Total: 5}, Caps{Total: 5, PerSource: 10}},
		{Caps{PerSource: 2}, Caps{Total: 100, PerSource: 2}},
		{Caps{Total: 1, PerSource: 1}, Caps{Total: 1, PerSource: 1}},
	}
	for _, tc := range cases {
		if got := tc.in.Or(defaults); got != tc.want {
			t.Errorf("%+v.Or(%+v) = %+v, want %+v", tc.in, defaults, got, tc.want)
		}
	}
}

func TestSource(t *testing.T) {
	cases := []struct {
		name string
		addr net.Addr
		want netip.Addr
	}{
		{"IPv4", &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1}, netip.MustParseAddr("192.0.2.7")},
		{"IPv4 on an IPv6 socket", &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 1}, netip.MustParseAddr("192.0.2.7")},
		{"IPv6", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}, netip.MustParseAddr("2001:db8::1")},
		{"not TCP", &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, netip.Addr{}},
		{"none", nil, netip.Addr{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Source(tc.addr); got != tc.want {
				t.Errorf("Source(%v) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
	for remote, want := range map[string]netip.Addr{
		"192.0.2.7:443":          netip.MustParseAddr("192.0.2.7"),
		"[::ffff:192.0.2.7]:443": netip.MustParseAddr("192.0.2.7"),
		"[2001:db8::1]:443":      netip.MustParseAddr("2001:db8::1"),
		"pipe":                   {},
	} {
		if got := SourceOf(remote); got != want {
			t.Errorf("SourceOf(%q) = %v, want %v", remote, got, want)
		}
	}
}
