package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/operator"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

const coalesceMax = time.Second

func coalescingOptions() operator.Options {
	return operator.Options{
		Policy:      session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour, MaxCoalesce: coalesceMax},
		Concurrency: 16,
	}
}

func TestKeepAliveWithinTheWindowIsNotWritten(t *testing.T) {
	ns := env.Namespace(t)
	op := env.StartOperator(t, ns, coalescingOptions())
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	us := env.CreateSession(t, testenv.NewSession(ns, "coalesced", 300)) // window: min(1s, 3s)
	url := apiURLs.action(op.RESTURL, us.Status.ID, "keep-alive")

	noContent(t, do(t, "POST", url, `{"client_progress": 10}`, bearer(token)...))
	written := get(t, us)
	for range 5 {
		noContent(t, do(t, "POST", url, `{"client_progress": 10}`, bearer(token)...))
		noContent(t, do(t, "POST", url, "", bearer(token)...))
	}
	if rv := get(t, us).ResourceVersion; rv != written.ResourceVersion {
		t.Fatal("keep-alives within the window wrote to the API server")
	}
	noContent(t, do(t, "POST", url, `{"client_progress": 11}`, bearer(token)...))
	if p := get(t, us).Status.ClientProgress; p != 11 {
		t.Fatalf("progress %d after a keep-alive with new progress in the window, want 11", p)
	}
	time.Sleep(coalesceMax)
	prev := get(t, us).Status.LastActivity.Time
	noContent(t, do(t, "POST", url, "", bearer(token)...))
	if last := get(t, us).Status.LastActivity.Time; !last.After(prev) {
		t.Fatal("a keep-alive after the window did not move lastActivity")
	}
}

// TestRenewingAtTheEdgeRacesExpiry keeps 250 sessions alive by renewing each right before its
// deadline, while the reconciler expires 250 others with the same timeout. No session may be
// deleted while a keep-alive vouches for it, and every idle one must go within the run's
// lateness bound (see testenv.LatenessBound). On a busy machine a session may be created so
// slowly that it is due before its first renewal, or a renewal may be answered only after the
// deadline it raced: answered NOT_FOUND then, the session counts as idle, which is correct. A
// renewal answered NOT_FOUND before its deadline is a session lost.
func TestRenewingAtTheEdgeRacesExpiry(t *testing.T) {
	const (
		kept, idle = 250, 250
		timeout    = 5 * time.Second
		edge       = 100 * time.Millisecond // renew this long before the deadline
		rounds     = 3
	)
	ns := env.Namespace(t)
	deletions := env.WatchDeletions(t, ns)
	srv := env.StartOperator(t, ns, coalescingOptions()).RESTURL
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	window := min(coalesceMax, timeout/100)

	var wg sync.WaitGroup
	var mu sync.Mutex
	aliveUntil := map[string]time.Time{} // the latest deadline a successful keep-alive vouches for
	expired := map[string]bool{}         // sessions left to expire: the idle ones, and any due before a renewal
	var failures []string
	creating := make(chan struct{}, 32) // at most 32 creates in flight
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	for i := range kept + idle {
		wg.Go(func() {
			us := testenv.NewSession(ns, fmt.Sprintf("s-%03d", i), int32(timeout/time.Second))
			creating <- struct{}{}
			start := time.Now()
			cur, err := createAndWaitForStatus(us)
			<-creating
			if err != nil {
				fail("%s: %v", us.Name, err)
				return
			}
			env.ObserveRoundTrip(time.Since(start))
			if i >= kept || renew(t, srv, token, cur, rounds, edge, timeout-window, fail, &mu, aliveUntil) {
				mu.Lock()
				expired[us.Name] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	for name, until := range aliveUntil {
		if at, ok := deletions.At(name); ok && at.Before(until) {
			t.Errorf("%s deleted at %v, before %v, while a keep-alive vouched for it", name, at, until)
		}
	}
	bound := env.LatenessBound()
	var worst time.Duration
	for name := range expired {
		at := deletions.Wait(t, name, time.Minute)
		late := at.Sub(deletions.Object(name).Status.ExpirationTime.Time)
		worst = max(worst, late)
		if late < 0 || late > bound {
			t.Errorf("%s deleted %v after its expirationTime, want within [0, %v]", name, late, bound)
		}
	}
	t.Logf("%d sessions renewed %d times %v before their deadline: none lost; %d expired (%d idle), worst %v late (bound %v)",
		len(aliveUntil), rounds, edge, len(expired), idle, worst.Round(time.Millisecond), bound)
}

// renew keeps us alive for rounds keep-alives, each edge before the deadline the previous one
// vouched for (sent + vouch), recording that deadline in aliveUntil. It reports true when us
// was due before its first renewal could be sent, or a renewal was answered NOT_FOUND after
// the deadline it raced, so that us is left to expire.
func renew(t *testing.T, srv, token string, us *v1alpha1.UpdateSession, rounds int, edge, vouch time.Duration,
	fail func(string, ...any), mu *sync.Mutex, aliveUntil map[string]time.Time) (expires bool) {
	t.Helper()
	next := time.Now() // first renewal at once: creation time has second precision
	until := us.Status.ExpirationTime.Time
	for round := range rounds {
		time.Sleep(time.Until(next))
		sent := time.Now()
		if round == 0 && !sent.Before(until.Add(-edge)) {
			return true
		}
		status, body := rawKeepAlive(srv, us.Status.ID, token)
		switch {
		case status == http.StatusNotFound && time.Now().After(until):
			// Answered only after the deadline it raced, so it may have reached the operator
			// after the session expired (on a busy machine, a round trip can outlast the edge;
			// in round 0, a slow create leaves little of the first deadline): the session is
			// left to expire, and its deletion is checked against its expirationTime like the
			// idle ones', and against the deadline the previous keep-alive vouched for.
			return true
		case status != http.StatusNoContent:
			fail("%s: keep-alive sent %v before its deadline answered %d %s", us.Name, until.Sub(sent), status, body)
			return false
		}
		until = sent.Add(vouch)
		mu.Lock()
		aliveUntil[us.Name] = until
		mu.Unlock()
		next = until.Add(-edge)
	}
	return false
}

// createAndWaitForStatus creates us and returns it once the operator has initialised its
// status; it reports instead of failing, for use from any goroutine.
func createAndWaitForStatus(us *v1alpha1.UpdateSession) (*v1alpha1.UpdateSession, error) {
	if err := env.Client.Create(context.Background(), us); err != nil {
		return nil, err
	}
	var cur v1alpha1.UpdateSession
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, client.ObjectKeyFromObject(us), &cur)
			return err == nil && cur.Status.ExpirationTime != nil, err
		})
	return &cur, err
}

func TestTwoReplicasOneLeader(t *testing.T) {
	const lease = 20 * time.Second
	ns := env.Namespace(t)
	deletions := env.WatchDeletions(t, ns)
	election := func(o *ctrl.Options) {
		electing(ns)(o)
		// A lease far longer than a hand-over on release takes: a follower that only takes over
		// once the lease runs out would fail the hand-over bound below.
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = new(lease), new(10*time.Second), new(200*time.Millisecond)
	}
	opts := operator.Options{Policy: session.Policy{DefaultTimeout: time.Hour, TerminalRetention: time.Hour}, Concurrency: 4}
	a := env.StartOperatorWith(t, ns, opts, nil, election)
	b := env.StartOperatorWith(t, ns, opts, nil, election)
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token

	leader, follower := leaderOf(t, a, b)
	us := env.CreateSession(t, testenv.NewSession(ns, "both", 0)) // initialised by the leader
	for _, op := range []*testenv.Operator{leader, follower} {
		if status, body := rawKeepAlive(op.RESTURL, us.Status.ID, token); status != http.StatusNoContent {
			t.Fatalf("keep-alive on %s: %d %s", op.RESTURL, status, body)
		}
	}
	select {
	case <-follower.Elected:
		t.Fatal("both replicas lead")
	default:
	}

	due := createMany(t, ns, 5, 3)
	stopped := time.Now()
	leader.Stop()
	select {
	case <-follower.Elected:
		handOver := time.Since(stopped)
		t.Logf("the follower leads %v after the leader began to stop", handOver.Round(time.Millisecond))
		if handOver > lease/2 {
			t.Errorf("hand-over took %v: the stopped leader did not release its %v lease", handOver, lease)
		}
	case <-time.After(2 * lease):
		t.Fatal("the follower did not take over")
	}
	for _, us := range due {
		at := deletions.Wait(t, us.Name, time.Minute)
		if late := at.Sub(us.Status.ExpirationTime.Time); late < 0 {
			t.Errorf("%s deleted %v before its expirationTime", us.Name, -late)
		}
	}
}

func TestUnreachableAPIServer(t *testing.T) {
	ns := env.Namespace(t)
	proxy, cfg := env.Proxy(t)
	op := env.StartOperatorWith(t, ns, coalescingOptions(), cfg, nil)
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	us := env.CreateSession(t, testenv.NewSession(ns, "cut-off", 0))
	progress := 0
	keepAlive := func() (int, string, time.Duration) {
		progress++
		start := time.Now()
		status, body := rawKeepAliveBody(op.RESTURL, us.Status.ID, token, fmt.Sprintf(`{"client_progress": %d}`, progress))
		return status, body, time.Since(start)
	}
	if status, body, _ := keepAlive(); status != http.StatusNoContent {
		t.Fatalf("keep-alive before the outage: %d %s", status, body)
	}

	proxy.Block()
	status, body, took := keepAlive()
	if status != http.StatusServiceUnavailable || !strings.Contains(body, `"SERVICE_UNAVAILABLE"`) {
		t.Fatalf("keep-alive with the API server unreachable: %d %s, want 503 SERVICE_UNAVAILABLE", status, body)
	}
	// The answer is bounded by the request timeout, not by this machine's speed.
	if limit := 15 * time.Second; took > limit {
		t.Errorf("503 took %v, want an answer within %v", took, limit)
	}
	t.Logf("503 SERVICE_UNAVAILABLE after %v", took.Round(time.Millisecond))

	proxy.Unblock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, body, _ := keepAlive()
		if status == http.StatusNoContent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keep-alive did not recover within 20s of the API server coming back: %d %s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createMany creates n sessions with the given timeout concurrently and waits until the
// operator has initialised them all.
func createMany(t *testing.T, ns string, n int, timeoutSeconds int32) []*v1alpha1.UpdateSession {
	t.Helper()
	sessions := make([]*v1alpha1.UpdateSession, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range sessions {
		sessions[i] = testenv.NewSession(ns, fmt.Sprintf("s-%04d", i), timeoutSeconds)
		wg.Go(func() { errs <- env.Client.Create(context.Background(), sessions[i]) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list v1alpha1.UpdateSessionList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		byName := map[string]*v1alpha1.UpdateSession{}
		for i := range list.Items {
			if list.Items[i].Status.ExpirationTime != nil {
				byName[list.Items[i].Name] = &list.Items[i]
			}
		}
		ready := 0
		for i, us := range sessions {
			if cur, ok := byName[us.Name]; ok {
				sessions[i] = cur
				ready++
			}
		}
		if ready == n {
			return sessions
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sessions initialised after 30s", ready, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rawKeepAlive keeps a session alive from any goroutine; it reports instead of failing.
func rawKeepAlive(server, id, token string) (int, string) {
	return rawKeepAliveBody(server, id, token, "")
}

func rawKeepAliveBody(server, id, token, body string) (int, string) {
	return keepAliveWith(server, id, body, "Authorization", "Bearer "+token)
}

// keepAliveWith keeps session id alive with body and the credential header: safe to call from
// any goroutine.
func keepAliveWith(server, id, body, header, credential string) (int, string) {
	req, err := http.NewRequest("POST", apiURLs.action(server, id, "keep-alive"), strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set(header, credential)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}
