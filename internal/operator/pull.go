package operator

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"os"
	"time"

	"k8s.io/client-go/rest"

	"github.com/contentlib/update-session-operator/internal/pull"
)

// pullClient is the client of PULL transfers: it refuses, besides the ranges package pull
// refuses, the addresses of the API server the manager talks to and of the kubernetes
// Service, which may well be public.
func pullClient(ctx context.Context, cfg *rest.Config, opts Options) *pull.Client {
	return pull.New(pull.Config{Guard: pull.Guard{
		Allowed: opts.PullAllowedCIDRs,
		Refused: clusterAddresses(ctx, apiServerHost(cfg.Host), os.Getenv("KUBERNETES_SERVICE_HOST")),
	}})
}

// apiServerHost is the host of a rest.Config's Host: a URL, or host:port, or a host.
func apiServerHost(h string) string {
	if u, err := url.Parse(h); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// clusterAddresses resolves hosts to their addresses, once, at start. A name that does not
// resolve adds nothing: a PULL to it would not reach it either.
func clusterAddresses(ctx context.Context, hosts ...string) []netip.Addr {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out []netip.Addr
	for _, h := range hosts {
		if h == "" {
			continue
		}
		if a, err := netip.ParseAddr(h); err == nil {
			out = append(out, a)
			continue
		}
		addrs, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
		out = append(out, addrs...)
	}
	return out
}
