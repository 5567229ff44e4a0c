package integration

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestFloodOfUnknownTokens sends keep-alives with fresh random tokens as fast as 8 goroutines
// can, while 10 real clients keep their own sessions alive every 500 ms. No real keep-alive may
// fail, and the API server must serve at most 5 TokenReviews per 100 garbage requests: the
// reviews of unknown tokens are limited, and known tokens are answered from the cache. (The
// full-size run, 16 flooders and 50 clients for 25 s, is in make bench.)
func TestFloodOfUnknownTokens(t *testing.T) {
	const (
		flooders, clients = 8, 10
		duration          = 6 * time.Second
		period            = 500 * time.Millisecond
	)
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	type client struct{ token, id string }
	real := make([]client, clients)
	for i := range real {
		token := env.ServiceAccount(t, ns, fmt.Sprintf("client-%d", i), testenv.EditorVerbs...).Token
		real[i] = client{token, apiURLs.createWith(t, srv, token, fmt.Sprintf(`{"library_item_id": "item-%d"}`, i))}
		noContent(t, do(t, "POST", apiURLs.action(srv, real[i].id, "keep-alive"), "", bearer(real[i].token)...))
	}
	reviewsBefore := env.APIRequests(t, map[string]string{"resource": "tokenreviews"})

	stop := time.Now().Add(duration)
	var garbage, throttled, realFailures atomic.Int64
	var failures sync.Map
	var wg sync.WaitGroup
	for range flooders {
		wg.Go(func() {
			for time.Now().Before(stop) {
				status, _ := rawKeepAlive(srv, real[0].id, randomToken())
				garbage.Add(1)
				if status == http.StatusServiceUnavailable {
					throttled.Add(1)
				}
			}
		})
	}
	for _, c := range real {
		wg.Go(func() {
			for next := time.Now(); next.Before(stop); next = next.Add(period) {
				time.Sleep(time.Until(next)) // a client's keep-alive period
				if status, body := rawKeepAlive(srv, c.id, c.token); status != http.StatusNoContent {
					realFailures.Add(1)
					failures.Store(c.id, fmt.Sprintf("%d %s", status, body))
				}
			}
		})
	}
	wg.Wait()
	reviews := env.APIRequests(t, map[string]string{"resource": "tokenreviews"}) - reviewsBefore
	failures.Range(func(id, why any) bool {
		t.Errorf("real client of %s: keep-alive answered %s during the flood", id, why)
		return true
	})
	for _, c := range real {
		if us := byID(t, ns, c.id); us == nil {
			t.Errorf("session %s lost during the flood", c.id)
		}
	}
	perHundred := 100 * reviews / float64(garbage.Load())
	t.Logf("%d garbage requests (%d answered 503), %.0f TokenReviews (%.2f per 100), %d real keep-alive failures",
		garbage.Load(), throttled.Load(), reviews, perHundred, realFailures.Load())
	if perHundred > 5 {
		t.Errorf("%.2f TokenReviews per 100 garbage requests, want at most 5", perHundred)
	}
}

// randomToken is a fresh token no API server knows.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestFloodOfUnknownIDs: 2,000 keep-alives with random well-formed ids, from a caller with no
// rights at all, sent by 200 workers, cost the API server at most 100 LISTs; each answers 404,
// or 503 when lookups are over their limit (after giving the cache a second).
func TestFloodOfUnknownIDs(t *testing.T) {
	const requests, workers = 2000, 200
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	nobody := env.ServiceAccount(t, ns, "nobody").Token
	listsBefore := env.APIRequests(t, map[string]string{"resource": "updatesessions", "verb": "LIST"})
	var notFound, throttled atomic.Int64
	var wg sync.WaitGroup
	ids := make(chan string, requests)
	for range requests {
		ids <- uuid.NewString()
	}
	close(ids)
	for range workers {
		wg.Go(func() {
			for id := range ids {
				switch status, body := rawKeepAlive(srv, id, nobody); status {
				case http.StatusNotFound:
					notFound.Add(1)
				case http.StatusServiceUnavailable:
					throttled.Add(1)
				default:
					t.Errorf("keep-alive of an unknown id answered %d %s", status, body)
				}
			}
		})
	}
	wg.Wait()
	lists := env.APIRequests(t, map[string]string{"resource": "updatesessions", "verb": "LIST"}) - listsBefore
	t.Logf("%d keep-alives with unknown ids: %d answered 404, %d 503; %.0f LISTs", requests, notFound.Load(), throttled.Load(), lists)
	if lists > 100 {
		t.Errorf("%.0f LISTs for %d unknown ids, want at most 100", lists, requests)
	}
}
