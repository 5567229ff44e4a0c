package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// floodResult is one flood: attack requests sent as fast as the flooders can, beside
// legitimate clients the server has never seen keeping their own sessions alive.
type floodResult struct {
	name              string
	flooders, clients int
	duration          time.Duration
	// attacks are the attack requests sent and their answers, by kind.
	attacks []attackTally
	// reviewResource is the review the attack would cost the API server ("tokenreviews"), and
	// reviews the number of them it served during the flood, the legitimate clients' own among
	// them.
	reviewResource string
	reviews        float64
	legit          clientTally
}

// attackTally counts one kind of attack request and how the server answered them.
type attackTally struct {
	kind string
	sent int64
	// answers counts the answers by HTTP status; 0 is no answer (a connection refused or cut).
	answers map[int]int64
}

// clientTally is what the legitimate clients met.
type clientTally struct {
	// sent keep-alives; failed: answered anything but 204, or not at all.
	sent, failed int64
	// lost sessions: deleted by the end of the flood.
	lost     int
	p50, p99 time.Duration
}

const (
	floodFlooders = 16
	floodClients  = 50
	clientPeriod  = 500 * time.Millisecond
	// floodSessionTimeout is the legitimate sessions' timeout: a run of refusals longer than it
	// deletes a session.
	floodSessionTimeout int32 = 20
	// clientStagger is how long into a flood the last legitimate client makes its first call;
	// the others start evenly before it, each after the flood began.
	clientStagger = 5 * time.Second
	// maxReviewsPerAttack is the target: reviews the API server serves per attack request.
	maxReviewsPerAttack = 0.05
)

// attack is one kind of attack request: send makes one against the server and returns the
// HTTP status it was answered with, 0 for none.
type attack struct {
	kind string
	send func(s floodTarget) int
}

// floodTarget is the manager under attack: its REST URL, a session of it, and the attacker's
// HTTP client.
type floodTarget struct {
	http     *http.Client
	base, id string
}

// measureFloods runs the token flood and then the namespace flood, each for d against a
// manager just started.
func (b *bench) measureFloods(ctx context.Context, d time.Duration) ([]floodResult, error) {
	tokens, err := b.measureTokenFlood(ctx, d)
	if err != nil {
		return nil, err
	}
	namespaces, err := b.measureNamespaceFlood(ctx, d)
	if err != nil {
		return nil, err
	}
	return []floodResult{tokens, namespaces}, nil
}

// measureTokenFlood floods keep-alives with garbage bearer tokens, half random opaque ones, half
// JWTs forged with the cluster's issuer and audience: each costs a TokenReview unless the
// operator refuses it first.
func (b *bench) measureTokenFlood(ctx context.Context, d time.Duration) (floodResult, error) {
	ns, err := b.namespace(ctx, "token-flood")
	if err != nil {
		return floodResult{}, err
	}
	// The forger's template: a token of the cluster's that the server never sees.
	template, err := b.serviceAccount(ctx, ns, "forger")
	if err != nil {
		return floodResult{}, err
	}
	f, err := newForger(template)
	if err != nil {
		return floodResult{}, err
	}
	return b.runFlood(ctx, "token flood", ns, "tokenreviews", d, []attack{
		{kind: "random opaque token", send: func(s floodTarget) int { return keepAliveStatus(s.http, s.base, randomToken(), s.id) }},
		{kind: "forged JWT", send: func(s floodTarget) int { return keepAliveStatus(s.http, s.base, f.token(), s.id) }},
	})
}

// measureNamespaceFlood floods lists and creates, each naming a new namespace, by a valid
// service-account token with no rights on sessions: each costs a SubjectAccessReview unless
// the operator refuses it first.
func (b *bench) measureNamespaceFlood(ctx context.Context, d time.Duration) (floodResult, error) {
	ns, err := b.namespace(ctx, "namespace-flood")
	if err != nil {
		return floodResult{}, err
	}
	token, err := b.serviceAccount(ctx, ns, "intruder")
	if err != nil {
		return floodResult{}, err
	}
	return b.runFlood(ctx, "namespace flood", ns, "subjectaccessreviews", d, []attack{
		{kind: "list, new namespace", send: func(s floodTarget) int {
			return send(s.http, http.MethodGet, s.base+sessionsPath+"?namespace="+randomNamespace(), token, "")
		}},
		{kind: "create, new namespace", send: func(s floodTarget) int {
			return send(s.http, http.MethodPost, s.base+sessionsPath+"?namespace="+randomNamespace(), token,
				`{"library_item_id":"item"}`)
		}},
	})
}

// runFlood runs floodFlooders goroutines sending attacks, each kind in turn, as fast as they
// can, from one source address (one pod), while floodClients legitimate clients, a service
// account and a source address each, keep their own sessions of floodSessionTimeout alive every
// clientPeriod, for d. The clients' tokens are new to the manager, and each makes its first
// call after the flood began. It counts the reviewResource requests the API server served.
func (b *bench) runFlood(ctx context.Context, name, ns, reviewResource string, d time.Duration,
	attacks []attack) (floodResult, error) {
	step(fmt.Sprintf("%s: %d flooders (%s), %d new clients every %v, for %v", name, floodFlooders,
		kinds(attacks), floodClients, clientPeriod, d))
	m, err := b.startManager()
	if err != nil {
		return floodResult{}, err
	}
	defer m.stop()
	tokens := make([]string, floodClients)
	for i := range tokens {
		if tokens[i], err = b.account(ctx, ns, fmt.Sprintf("client-%02d", i)); err != nil {
			return floodResult{}, err
		}
	}
	// Last, so that the sessions' timeouts start as late as they can before the flood.
	names, ids, err := b.createSessionsExpiring(ctx, ns, floodClients, floodSessionTimeout)
	if err != nil {
		return floodResult{}, err
	}
	isReview := func(l map[string]string) bool { return l["resource"] == reviewResource }
	reviews := b.apiRequests(isReview)
	res := floodResult{name: name, flooders: floodFlooders, clients: floodClients, duration: d, reviewResource: reviewResource}
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	var attacked []attackTally
	wg.Go(func() {
		attacked = flood(floodTarget{http: loopbackClient(2), base: m.restURL, id: ids[0]}, attacks, stop)
	})
	var latencies []time.Duration
	wg.Go(func() {
		latencies, res.legit.sent, res.legit.failed = b.keepClientsAlive(m.restURL, tokens, ids, start, stop)
	})
	wg.Wait()
	res.attacks = attacked
	res.reviews = b.apiRequests(isReview) - reviews
	slices.Sort(latencies)
	res.legit.p50, res.legit.p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
	if res.legit.lost, err = b.deleted(ctx, ns, names); err != nil {
		return floodResult{}, err
	}
	fmt.Fprint(os.Stderr, res.summary())
	return res, nil
}

// flood sends attacks from floodFlooders goroutines until stop, each goroutine every kind in
// turn, and tallies them by kind.
func flood(s floodTarget, attacks []attack, stop time.Time) []attackTally {
	perFlooder := make([][]attackTally, floodFlooders)
	var wg sync.WaitGroup
	for g := range perFlooder {
		tallies := newTallies(attacks)
		perFlooder[g] = tallies
		wg.Go(func() {
			for n := g; time.Now().Before(stop); n++ {
				k := n % len(attacks)
				tallies[k].sent++
				tallies[k].answers[attacks[k].send(s)]++
			}
		})
	}
	wg.Wait()
	total := newTallies(attacks)
	for _, tallies := range perFlooder {
		for k, t := range tallies {
			total[k].sent += t.sent
			for status, n := range t.answers {
				total[k].answers[status] += n
			}
		}
	}
	return total
}

func newTallies(attacks []attack) []attackTally {
	tallies := make([]attackTally, len(attacks))
	for k, a := range attacks {
		tallies[k] = attackTally{kind: a.kind, answers: map[int]int64{}}
	}
	return tallies
}

// keepClientsAlive runs one legitimate client per token, client i keeping ids[i] alive every
// clientPeriod from its start, within clientStagger after start, until stop. It returns the
// latencies of every keep-alive, how many were sent and how many failed.
func (b *bench) keepClientsAlive(base string, tokens, ids []string, start, stop time.Time) ([]time.Duration, int64, int64) {
	perClient := make([][]time.Duration, len(tokens))
	failed := make([]int64, len(tokens))
	// firstFailure is each client's first failure: when, into the flood, and the status answered.
	firstFailure := make([]struct {
		at     time.Duration
		status int
	}, len(tokens))
	var wg sync.WaitGroup
	for i, token := range tokens {
		c := loopbackClient(100 + i)
		first := start.Add(clientStagger * time.Duration(i+1) / time.Duration(len(tokens)))
		wg.Go(func() {
			for next := first; next.Before(stop); next = next.Add(clientPeriod) {
				time.Sleep(time.Until(next))
				began := time.Now()
				status := keepAliveStatus(c, base, token, ids[i])
				perClient[i] = append(perClient[i], time.Since(began))
				if status != http.StatusNoContent {
					if failed[i] == 0 {
						firstFailure[i].at, firstFailure[i].status = began.Sub(start), status
					}
					failed[i]++
				}
			}
		})
	}
	wg.Wait()
	latencies := slices.Concat(perClient...)
	var failures int64
	for i, n := range failed {
		failures += n
		if n > 0 {
			fmt.Fprintf(os.Stderr, "    client %d: %d failed, the first %.1fs into the flood (answered %d)\n",
				i, n, firstFailure[i].at.Seconds(), firstFailure[i].status)
		}
	}
	return latencies, int64(len(latencies)), failures
}

// deleted counts the sessions of names that no longer exist.
func (b *bench) deleted(ctx context.Context, ns string, names []string) (int, error) {
	lost := 0
	for _, name := range names {
		err := b.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.UpdateSession{})
		switch {
		case apierrors.IsNotFound(err):
			lost++
		case err != nil:
			return 0, err
		}
	}
	return lost, nil
}

// sessionsPath is the update-session collection in the /api form.
const sessionsPath = "/api/content/library/item/update-session"

// keepAliveStatus keeps session id alive through the /api form with a bearer token and returns
// the HTTP status answered (204 on success), 0 for none.
func keepAliveStatus(c *http.Client, base, token, id string) int {
	return send(c, http.MethodPost, base+sessionsPath+"/"+id+"?action=keep-alive", token, "")
}

// send makes a request with a bearer token and a JSON body, if any, and returns the HTTP
// status answered, 0 for none.
func send(c *http.Client, method, url, token, body string) int {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// loopbackClient is an HTTP client whose connections come from 127.0.n/8's address n (n >= 2):
// each pod of a cluster has an address of its own, and a server may share its limits by source.
func loopbackClient(n int) *http.Client {
	ip := net.IPv4(127, 0, byte(n>>8), byte(n))
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
	transport := &http.Transport{DialContext: dialer.DialContext, MaxIdleConns: 64, MaxIdleConnsPerHost: 64,
		IdleConnTimeout: time.Minute}
	return &http.Client{Transport: transport, Timeout: time.Minute}
}

// randomToken is a fresh token no API server knows.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomNamespace is a namespace name no one has asked about.
func randomNamespace() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "ns-" + hex.EncodeToString(b)
}

func kinds(attacks []attack) string {
	names := make([]string, len(attacks))
	for i, a := range attacks {
		names[i] = a.kind
	}
	return strings.Join(names, " and ")
}

// summary is the flood's figures in a few lines, for the run's log.
func (f floodResult) summary() string {
	var b strings.Builder
	for _, a := range f.attacks {
		fmt.Fprintf(&b, "    %s: %d sent; answered 401 %d, 403 %d, 503 %d, other %d\n", a.kind, a.sent,
			a.answers[http.StatusUnauthorized], a.answers[http.StatusForbidden], a.answers[http.StatusServiceUnavailable], a.other())
	}
	fmt.Fprintf(&b, "    %.0f %s (%.4f per attack request); %d legitimate keep-alives, %d failed, p50 %v, p99 %v; "+
		"%d of %d sessions lost\n", f.reviews, f.reviewResource, f.reviewsPerAttack(), f.legit.sent, f.legit.failed,
		f.legit.p50.Round(time.Microsecond), f.legit.p99.Round(time.Microsecond), f.legit.lost, f.clients)
	return b.String()
}

// The derived figures, kept apart from rendering (and tested in flood_test.go).

// attacksSent is the number of attack requests of every kind.
func (f floodResult) attacksSent() int64 {
	var n int64
	for _, a := range f.attacks {
		n += a.sent
	}
	return n
}

// reviewsPerAttack is the reviews the API server served per attack request; NaN when none was
// sent, which meets no target.
func (f floodResult) reviewsPerAttack() float64 {
	if f.attacksSent() == 0 {
		return math.NaN()
	}
	return f.reviews / float64(f.attacksSent())
}

// other counts the answers that were neither 401, 403 nor 503, and the requests not answered.
func (a attackTally) other() int64 {
	var n int64
	for status, count := range a.answers {
		if status != http.StatusUnauthorized && status != http.StatusForbidden && status != http.StatusServiceUnavailable {
			n += count
		}
	}
	return n
}

// clientsServed: the legitimate clients sent keep-alives, and every one was answered 204 and
// no session was lost.
func (f floodResult) clientsServed() bool {
	return f.legit.sent > 0 && f.legit.failed == 0 && f.legit.lost == 0
}

// reviewsMet: the attack cost at most maxReviewsPerAttack reviews a request.
func (f floodResult) reviewsMet() bool { return f.reviewsPerAttack() <= maxReviewsPerAttack }

// targets are the flood's rows of the targets table.
func (f floodResult) targets() []target {
	return []target{
		{name: f.name + ": legitimate keep-alives failed, sessions lost",
			measured: fmt.Sprintf("%d of %d, %d of %d", f.legit.failed, f.legit.sent, f.legit.lost, f.clients),
			anchor:   "0, 0", ratio: "-", met: f.clientsServed()},
		{name: f.name + ": " + reviewName(f.reviewResource) + " per attack request",
			measured: fmt.Sprintf("%.4f (%.0f of %d)", f.reviewsPerAttack(), f.reviews, f.attacksSent()),
			anchor:   fmt.Sprintf("<= %.2f", maxReviewsPerAttack), ratio: "-", met: f.reviewsMet()},
	}
}

// reviewName is a review resource's kind, as people write it: "subjectaccessreviews" is
// SubjectAccessReviews.
func reviewName(resource string) string {
	switch resource {
	case "tokenreviews":
		return "TokenReviews"
	case "subjectaccessreviews":
		return "SubjectAccessReviews"
	}
	return resource
}
