package operator

import (
	"context"
	"net/netip"
	"slices"
	"testing"
)

func TestAPIServerHost(t *testing.T) {
	cases := map[string]string{
		"https://203.0.113.10:6443": "203.0.113.10",
		"https://[2001:db8::1]:443": "2001:db8::1",
		"api.example.com:6443":      "api.example.com",
		"api.example.com":           "api.example.com",
		"http://127.0.0.1:8080/":    "127.0.0.1",
	}
	for in, want := range cases {
		if got := apiServerHost(in); got != want {
			t.Errorf("apiServerHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClusterAddresses(t *testing.T) {
	got := clusterAddresses(context.Background(), "203.0.113.10", "", "localhost", "no-such-host.invalid")
	if !slices.Contains(got, netip.MustParseAddr("203.0.113.10")) {
		t.Errorf("clusterAddresses = %v, want the address given", got)
	}
	if !slices.ContainsFunc(got, netip.Addr.IsLoopback) {
		t.Errorf("clusterAddresses = %v, want localhost's addresses", got)
	}
}
