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

// The shape of a flood: flooders send garbage as fast as they can for floodDuration, while
// floodClients real clients keep their sessions alive every floodPeriod.
const (
	flooders, floodClients = 8, 10
	floodDuration          = 6 * time.Second
	floodPeriod            = 500 * time.Millisecond
)

// flood runs a flood against srv. The flooders call garbage, which must answer 401 or 503; the
// real clients of ns each log in and keep their own session alive with keepAlive(session,
// token, id), where id is the login's session id, which must answer 204. It fails the test for
// every other answer and every session lost, and returns the garbage requests sent.
func flood(t *testing.T, srv, ns string, garbage func(session string) (int, string),
	keepAlive func(session, token, id string) (int, string)) int64 {
	t.Helper()
	type client struct{ token, id, session string }
	real := make([]client, floodClients)
	for i := range real {
		token := env.ServiceAccount(t, ns, fmt.Sprintf("client-%d", i), testenv.EditorVerbs...).Token
		real[i] = client{token, logIn(t, srv, token),
			apiURLs.createWith(t, srv, token, fmt.Sprintf(`{"library_item_id": "item-%d"}`, i))}
		if status, body := keepAlive(real[i].session, real[i].token, real[i].id); status != http.StatusNoContent {
			t.Fatalf("keep-alive before the flood answered %d %s", status, body)
		}
	}
	stop := time.Now().Add(floodDuration)
	var sent atomic.Int64
	var failures sync.Map
	var wg sync.WaitGroup
	for range flooders {
		wg.Go(func() {
			for time.Now().Before(stop) {
				status, body := garbage(real[0].session)
				sent.Add(1)
				if status != http.StatusUnauthorized && status != http.StatusServiceUnavailable {
					failures.Store("garbage", fmt.Sprintf("%d %s", status, body))
				}
			}
		})
	}
	for _, c := range real {
		wg.Go(func() {
			for next := time.Now(); next.Before(stop); next = next.Add(floodPeriod) {
				time.Sleep(time.Until(next)) // a client's keep-alive period
				if status, body := keepAlive(c.session, c.token, c.id); status != http.StatusNoContent {
					failures.Store(c.session, fmt.Sprintf("%d %s", status, body))
				}
			}
		})
	}
	wg.Wait()
	failures.Range(func(who, why any) bool {
		t.Errorf("keep-alive of %s answered %s during the flood", who, why)
		return true
	})
	for _, c := range real {
		if us := byID(t, ns, c.session); us == nil {
			t.Errorf("session %s lost during the flood", c.session)
		}
	}
	return sent.Load()
}

// TestFloodOfUnknownTokens: during a flood of keep-alives with fresh random tokens, no real
// client's keep-alive with its token may fail, and the API server must serve at most 5
// TokenReviews per 100 garbage requests: the reviews of unknown tokens are limited, and known
// tokens are answered from the cache. (The full-size run, 16 flooders and 50 clients for 25 s,
// is in make bench.)
func TestFloodOfUnknownTokens(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	garbage, perHundred := perHundredGarbage(t, map[string]string{"resource": "tokenreviews"}, func() int64 {
		return flood(t, srv, ns,
			func(session string) (int, string) { return rawKeepAlive(srv, session, randomToken()) },
			func(session, token, _ string) (int, string) { return rawKeepAlive(srv, session, token) })
	})
	t.Logf("%d garbage requests: %.2f TokenReviews per 100", garbage, perHundred)
	if perHundred > 5 {
		t.Errorf("%.2f TokenReviews per 100 garbage requests, want at most 5", perHundred)
	}
}

// TestFloodOfMadeUpSessionIDs: during a flood of keep-alives with fresh random session ids, no
// logged-in client's keep-alive with its session id may fail, and the API server must serve at
// most 5 Secret reads per 100 garbage requests: the lookups of ids a replica does not know are
// limited, and the ids it knows are answered from memory.
func TestFloodOfMadeUpSessionIDs(t *testing.T) {
	ns := env.Namespace(t)
	srv := startOperator(t, ns, time.Hour)
	garbage, perHundred := perHundredGarbage(t, map[string]string{"resource": "secrets", "verb": "GET"}, func() int64 {
		return flood(t, srv, ns,
			func(session string) (int, string) { return sessionKeepAlive(srv, session, randomID()) },
			func(session, _, id string) (int, string) { return sessionKeepAlive(srv, session, id) })
	})
	t.Logf("%d made-up session ids: %.2f Secret reads per 100", garbage, perHundred)
	if perHundred > 5 {
		t.Errorf("%.2f Secret reads per 100 made-up session ids, want at most 5", perHundred)
	}
}

// perHundredGarbage runs a flood and returns its garbage requests and how many API-server
// requests matching match it cost per 100 of them.
func perHundredGarbage(t *testing.T, match map[string]string, run func() int64) (garbage int64, perHundred float64) {
	t.Helper()
	before := env.APIRequests(t, match)
	garbage = run()
	return garbage, 100 * (env.APIRequests(t, match) - before) / float64(garbage)
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
