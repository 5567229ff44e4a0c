package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"k8s.io/client-go/kubernetes"

	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// The shape of a flood: flooders send garbage as fast as they can for floodDuration, from an
// address of their own (one pod), while real clients keep their sessions alive every
// floodPeriod. The sessions' timeout is floodTimeout, so that refusals for that long delete
// one; the token cache lasts floodTokenTTL, shorter than the flood, so that every warmed
// client's token is reviewed again during it.
const (
	flooders                 = 8
	warmedClients, newcomers = 8, 8
	floodDuration            = 8 * time.Second
	floodPeriod              = 500 * time.Millisecond
	floodTimeout             = 5 * time.Second
	floodTokenTTL            = 3 * time.Second
)

// attackerAddr is the address the flooders call from: another pod than the real clients'.
const attackerAddr = "127.0.0.2"

// floodOptions run the operator with sessions of floodTimeout and a token cache that lapses
// during the flood.
func floodOptions() operator.Options {
	opts := startOptions(floodTimeout)
	opts.TokenLifetimes = auth.Lifetimes{Token: floodTokenTTL, RefusedToken: time.Second, Allow: time.Second, Deny: time.Second}
	return opts
}

// floodClient is a real client: its token, its login's session id and its session.
type floodClient struct{ token, id, session string }

// flood runs a flood against srv: attack sends one garbage request, which must answer one of
// attackAnswers. Of the real clients of ns, warmedClients log in and create a session before
// the flood, and newcomers, never seen before, do so after it began; each then keeps its
// session alive with keepAlive every floodPeriod, which must answer 204. It fails the test for
// every other answer and every session lost, and returns the garbage requests sent.
func flood(t *testing.T, srv, ns string, attack func() (int, string), attackAnswers []int,
	keepAlive func(c floodClient) (int, string)) int64 {
	t.Helper()
	clients := make([]floodClient, warmedClients+newcomers)
	for i := range clients {
		clients[i].token = env.ServiceAccount(t, ns, fmt.Sprintf("client-%d", i), testenv.EditorVerbs...).Token
	}
	var failures sync.Map
	start := func(i int) bool {
		c := &clients[i]
		var status int
		var body string
		if status, body, c.id = rawLogIn(srv, c.token); status != http.StatusOK {
			failures.Store(fmt.Sprint("login of client ", i), fmt.Sprintf("%d %s", status, body))
			return false
		}
		if status, body, c.session = rawCreate(srv, c.token, fmt.Sprintf(`{"library_item_id": "item-%d"}`, i)); status != http.StatusCreated {
			failures.Store(fmt.Sprint("create of client ", i), fmt.Sprintf("%d %s", status, body))
			return false
		}
		return true
	}
	for i := range warmedClients {
		if !start(i) {
			t.Fatalf("client %d could not start before the flood", i)
		}
	}
	began := time.Now()
	stop := began.Add(floodDuration)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range flooders {
		wg.Go(func() {
			for time.Now().Before(stop) {
				status, body := attack()
				sent.Add(1)
				if !containsInt(attackAnswers, status) {
					failures.Store("garbage", fmt.Sprintf("%d %s", status, body))
				}
			}
		})
	}
	for i := range clients {
		wg.Go(func() {
			if i >= warmedClients { // a newcomer: its first call comes during the flood
				time.Sleep(time.Duration(i-warmedClients+1) * floodDuration / (3 * newcomers))
				if !start(i) {
					return
				}
			}
			for next := time.Now(); next.Before(stop); next = next.Add(floodPeriod) {
				time.Sleep(time.Until(next)) // a client's keep-alive period
				if status, body := keepAlive(clients[i]); status != http.StatusNoContent {
					failures.Store(fmt.Sprint("keep-alive of client ", i), fmt.Sprintf("%d %s", status, body))
				}
			}
		})
	}
	wg.Wait()
	failures.Range(func(who, why any) bool {
		t.Errorf("%s answered %s during the flood", who, why)
		return true
	})
	for i, c := range clients {
		if c.session != "" && byID(t, ns, c.session) == nil {
			t.Errorf("session of client %d (%s) lost during the flood", i, c.session)
		}
	}
	return sent.Load()
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestFloodOfUnknownTokens: during a flood of keep-alives with garbage tokens (random opaque
// ones, or JWTs forged with the cluster's issuer) from one pod, that outlasts the token cache,
// no real client fails, warmed or never seen before the flood began, and no session is lost.
// The TokenReviews served are the real clients' own (one per token per cache lifetime) and,
// for opaque tokens, at most the review budget: forged service-account tokens cost none.
func TestFloodOfUnknownTokens(t *testing.T) {
	forger := newForger(t)
	limits := auth.DefaultReviewLimits
	ownReviews := ownReviews()
	for _, tc := range []struct {
		name    string
		garbage func() string
		// budget is the most TokenReviews the garbage may cost.
		budget float64
	}{
		{"opaque tokens", randomToken, limits.QPS*floodDuration.Seconds() + float64(limits.Burst)},
		{"forged service-account tokens", forger.token, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := env.Namespace(t)
			srv := env.StartOperator(t, ns, floodOptions()).RESTURL
			attacker := clientFrom(attackerAddr)
			garbage, perHundred := perHundredGarbage(t, map[string]string{"resource": "tokenreviews"}, func() int64 {
				return flood(t, srv, ns,
					func() (int, string) {
						return call(attacker, "POST", apiURLs.action(srv, uuid.NewString(), "keep-alive"), "", "Authorization", "Bearer "+tc.garbage())
					},
					[]int{http.StatusUnauthorized, http.StatusServiceUnavailable},
					func(c floodClient) (int, string) { return rawKeepAlive(srv, c.session, c.token) })
			})
			reviews := perHundred * float64(garbage) / 100
			t.Logf("%d garbage requests: %.0f TokenReviews (%.2f per 100), the real clients' own at most %.0f",
				garbage, reviews, perHundred, ownReviews)
			if reviews > ownReviews+tc.budget {
				t.Errorf("%.0f TokenReviews, want at most %.0f for the real clients and %.0f for the garbage",
					reviews, ownReviews, tc.budget)
			}
		})
	}
}

// TestFloodOfMadeUpSessionIDs: during a flood of keep-alives with fresh random session ids, no
// logged-in client's keep-alive with its session id may fail, and the Secret reads the API
// server serves are the real clients' own (one per login per token cache lifetime) and at most
// the lookups' budget: the lookups of ids a replica does not know are limited, and the ids it
// knows are answered from memory.
func TestFloodOfMadeUpSessionIDs(t *testing.T) {
	ns := env.Namespace(t)
	srv := env.StartOperator(t, ns, floodOptions()).RESTURL
	attacker := clientFrom(attackerAddr)
	garbage, perHundred := perHundredGarbage(t, map[string]string{"resource": "secrets", "verb": "GET"}, func() int64 {
		return flood(t, srv, ns,
			func() (int, string) {
				return call(attacker, "POST", apiURLs.action(srv, uuid.NewString(), "keep-alive"), "", auth.SessionIDHeader, randomID())
			},
			[]int{http.StatusUnauthorized, http.StatusServiceUnavailable},
			func(c floodClient) (int, string) { return sessionKeepAlive(srv, c.session, c.id) })
	})
	limits := auth.DefaultReviewLimits
	budget := limits.QPS*floodDuration.Seconds() + float64(limits.Burst)
	reads := perHundred * float64(garbage) / 100
	t.Logf("%d made-up session ids: %.0f Secret reads (%.2f per 100), the real clients' own at most %.0f",
		garbage, reads, perHundred, ownReviews())
	if reads > ownReviews()+budget {
		t.Errorf("%.0f Secret reads, want at most %.0f for the real clients and %.0f for the made-up ids",
			reads, ownReviews(), budget)
	}
}

// ownReviews bounds what the real clients of a flood cost on their own: a review (or a read of
// their login) when they start, and one each time their token's cache lifetime ends.
func ownReviews() float64 {
	return float64(warmedClients+newcomers) * (math.Ceil(float64(floodDuration)/float64(floodTokenTTL)) + 2)
}

// TestFloodOfNamespaces: a token holder without rights lists sessions naming a new namespace
// on every call, beside real clients: none of them fails, warmed or new, and the attack costs
// at most 0.05 SubjectAccessReviews a request (the real clients' own reviews included, with
// decisions cached as long as they ship).
func TestFloodOfNamespaces(t *testing.T) {
	ns := env.Namespace(t)
	srv := env.StartOperator(t, ns, startOptions(floodTimeout)).RESTURL
	nobody := env.ServiceAccount(t, ns, "nobody").Token
	attacker := clientFrom(attackerAddr)
	attacks, perHundred := perHundredGarbage(t, map[string]string{"resource": "subjectaccessreviews"}, func() int64 {
		return flood(t, srv, ns,
			func() (int, string) {
				return call(attacker, "GET", apiURLs.collection(srv)+"?namespace=ns-"+randomHex(6), "", "Authorization", "Bearer "+nobody)
			},
			[]int{http.StatusForbidden, http.StatusServiceUnavailable},
			func(c floodClient) (int, string) { return rawKeepAlive(srv, c.session, c.token) })
	})
	t.Logf("%d lists of new namespaces: %.3f SubjectAccessReviews per request", attacks, perHundred/100)
	if perHundred/100 > 0.05 {
		t.Errorf("%.3f SubjectAccessReviews per request of the namespace flood, want at most 0.05", perHundred/100)
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

// randomToken is a fresh opaque token no API server knows.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// forger makes JWTs that claim the cluster's service-account issuer, signed with a key of its
// own: what an attacker who knows the cluster can make.
type forger struct {
	signer jose.Signer
	issuer string
}

func newForger(t *testing.T) forger {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.CP.Config)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := cs.Discovery().RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var discovery struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(doc, &discovery); err != nil {
		t.Fatal(err)
	}
	// ES256: cheap to sign, so that the flooders send as fast as with opaque tokens.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithHeader("kid", "forged"))
	if err != nil {
		t.Fatal(err)
	}
	return forger{signer, discovery.Issuer}
}

// token is a fresh forged token of a made-up service account.
func (f forger) token() string {
	now := time.Now()
	token, err := jwt.Signed(f.signer).Claims(jwt.Claims{
		Issuer: f.issuer, Subject: "system:serviceaccount:default:" + randomHex(4),
		Expiry: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now),
	}).Serialize()
	if err != nil {
		panic(err)
	}
	return token
}

// clientFrom is an HTTP client whose connections come from the local address ip, as another
// pod's would.
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: flooders}}
}

// call sends a request with a header pair from any goroutine; it reports instead of failing.
func call(c *http.Client, method, url, body, header, value string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set(header, value)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// rawLogIn logs in from any goroutine and returns the session id.
func rawLogIn(srv, token string) (status int, body, id string) {
	status, body = call(http.DefaultClient, "POST", srv+restSession, "", "Authorization", "Bearer "+token)
	var result struct {
		Value string `json:"value"`
	}
	_ = json.Unmarshal([]byte(body), &result)
	return status, body, result.Value
}

// rawCreate creates a session from any goroutine and returns its id.
func rawCreate(srv, token, spec string) (status int, body, id string) {
	status, body = call(http.DefaultClient, "POST", apiURLs.collection(srv), spec, "Authorization", "Bearer "+token)
	_ = json.Unmarshal([]byte(body), &id)
	return status, body, id
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
