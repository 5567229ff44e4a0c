package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// floodResult is the token flood: garbage keep-alives with fresh random tokens beside real
// clients keeping their sessions alive.
type floodResult struct {
	flooders, clients int
	duration          time.Duration
	garbage           int64 // garbage requests sent
	throttled         int64 // of them, answered 503 at once (review limits)
	reviews           float64
	realCalls         int64
	realFailures      int64
	lost              int
}

func (f floodResult) reviewsPerHundred() float64 { return 100 * f.reviews / float64(f.garbage) }

const (
	floodFlooders = 16
	floodClients  = 50
	clientPeriod  = 500 * time.Millisecond
)

// measureFlood runs floodFlooders goroutines sending keep-alives with fresh random tokens as fast
// as they can, while floodClients real clients (a service account each) keep their own sessions
// alive every clientPeriod, for d; it counts the TokenReviews the API server served.
func (b *bench) measureFlood(ctx context.Context, d time.Duration) (floodResult, error) {
	step(fmt.Sprintf("token flood: %d flooders, %d real clients every %v, for %v", floodFlooders, floodClients, clientPeriod, d))
	m, err := b.startManager()
	if err != nil {
		return floodResult{}, err
	}
	defer m.stop()
	ns, err := b.namespace(ctx, "flood")
	if err != nil {
		return floodResult{}, err
	}
	names, ids, err := b.createSessions(ctx, ns, floodClients)
	if err != nil {
		return floodResult{}, err
	}
	calls := make([]func(int) error, floodClients)
	for i := range calls {
		token, err := b.account(ctx, ns, fmt.Sprintf("client-%02d", i))
		if err != nil {
			return floodResult{}, err
		}
		calls[i] = keepAlive(b.http, m.restURL, token, ids)
		if err := calls[i](i); err != nil { // the client's first call, before the flood
			return floodResult{}, err
		}
	}
	res := floodResult{flooders: floodFlooders, clients: floodClients, duration: d}
	isReview := func(l map[string]string) bool { return l["resource"] == "tokenreviews" }
	reviews := b.apiRequests(isReview)
	stop := time.Now().Add(d)
	var garbage, throttled, realCalls, realFailures atomic.Int64
	var wg sync.WaitGroup
	for range floodFlooders {
		wg.Go(func() {
			for time.Now().Before(stop) {
				err := keepAlive(b.http, m.restURL, randomToken(), ids)(0)
				garbage.Add(1)
				if err != nil && err.Error() == fmt.Sprintf("keep-alive answered %d", http.StatusServiceUnavailable) {
					throttled.Add(1)
				}
			}
		})
	}
	for i, call := range calls {
		wg.Go(func() {
			for next := time.Now(); next.Before(stop); next = next.Add(clientPeriod) {
				time.Sleep(time.Until(next))
				realCalls.Add(1)
				if err := call(i); err != nil {
					realFailures.Add(1)
					fmt.Fprintf(os.Stderr, "    real client %d: %v\n", i, err)
				}
			}
		})
	}
	wg.Wait()
	res.reviews = b.apiRequests(isReview) - reviews
	res.garbage, res.throttled = garbage.Load(), throttled.Load()
	res.realCalls, res.realFailures = realCalls.Load(), realFailures.Load()
	for _, name := range names {
		var us v1alpha1.UpdateSession
		if err := b.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &us); err != nil {
			res.lost++
		}
	}
	fmt.Fprintf(os.Stderr, "    %d garbage requests (%d answered 503), %.0f TokenReviews (%.2f per 100); "+
		"%d real keep-alives, %d failed; %d sessions lost\n", res.garbage, res.throttled, res.reviews,
		res.reviewsPerHundred(), res.realCalls, res.realFailures, res.lost)
	return res, nil
}

// randomToken is a fresh token no API server knows.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
