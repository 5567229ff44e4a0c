package integration

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/refresh"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestKeptAliveWithoutPauseIsRefreshedAhead keeps two sessions alive without pause for a few
// windows. The refresher writes them before their windows end, and every write records the time
// of a real keep-alive: never later than one was answered, never closer to the write before it
// than the window less session.RefreshLead. Once the keep-alives stop, so do the writes.
func TestKeptAliveWithoutPauseIsRefreshedAhead(t *testing.T) {
	const window = 2 * time.Second
	ns, op, token := startWithWindow(t, window)
	hot := []*v1alpha1.UpdateSession{
		env.CreateSession(t, testenv.NewSession(ns, "hot-1", 3600)),
		env.CreateSession(t, testenv.NewSession(ns, "hot-2", 3600)),
	}
	writes := watchLastActivity(t, ns)
	refreshesBefore := testutil.ToFloat64(metrics.KeepAliveRefreshes)

	var mu sync.Mutex
	firstSent, lastSent, lastAnswered := time.Now(), map[string]time.Time{}, time.Time{}
	stops := make([]func(), 0, len(hot))
	for _, us := range hot {
		stops = append(stops, inLoops(2, func() {
			sent := time.Now()
			if code, body := keepAliveWith(op.RESTURL, us.Status.ID, "", "Authorization", "Bearer "+token); code != 204 {
				t.Errorf("keep-alive of %s: %d %s", us.Name, code, body)
				return
			}
			mu.Lock()
			lastSent[us.Name], lastAnswered = sent, time.Now()
			mu.Unlock()
		}))
	}
	time.Sleep(3*window + window/2)
	for _, stop := range stops {
		stop()
	}
	settled := map[string]string{}
	for _, us := range hot {
		cur := settle(t, us, 5*refresh.Interval) // the last batch lands
		settled[us.Name] = cur.ResourceVersion
		if last := cur.Status.LastActivity.Time; last.Before(lastSent[us.Name].Add(-window)) {
			t.Errorf("%s: lastActivity %v, more than the window before its last keep-alive %v",
				us.Name, last, lastSent[us.Name])
		}
	}
	time.Sleep(window + session.RefreshLead)
	for _, us := range hot {
		if rv := get(t, us).ResourceVersion; rv != settled[us.Name] {
			t.Errorf("%s was written after its keep-alives stopped", us.Name)
		}
	}

	if n := testutil.ToFloat64(metrics.KeepAliveRefreshes) - refreshesBefore; n < float64(len(hot)) {
		t.Errorf("%v refreshes, want at least one per session kept alive for 3 windows", n)
	}
	for _, us := range hot {
		prev := us.Status.LastActivity.Time
		for _, at := range writes.of(us.Name) {
			switch {
			case at.Before(firstSent) || at.After(lastAnswered):
				t.Errorf("%s: lastActivity written as %v, not the time of a keep-alive (sent from %v, answered until %v)",
					us.Name, at, firstSent, lastAnswered)
			case at.Sub(prev) < window-session.RefreshLead:
				t.Errorf("%s: lastActivity written %v after the one before, want at least the window less the lead",
					us.Name, at.Sub(prev))
			}
			prev = at
		}
		t.Logf("%s: %d writes of lastActivity in %v of keep-alives", us.Name, len(writes.of(us.Name)),
			lastSent[us.Name].Sub(firstSent).Round(time.Millisecond))
	}
}

// TestKeepAlivesPastTheWindowDoNotWaitForARefresh slows the API server down so that a refresh
// lands only after the window it was queued in has ended. The keep-alives meanwhile are
// answered without a write of their own, as the refresh under way records one of them: no
// client waits for the API server, every write still records the time of a real keep-alive,
// and lastActivity lags the latest keep-alive by less than two windows.
func TestKeepAlivesPastTheWindowDoNotWaitForARefresh(t *testing.T) {
	const window, delay = 2 * time.Second, 1500 * time.Millisecond // a write takes longer than the lead
	ns := env.Namespace(t)
	proxy, cfg := env.Proxy(t)
	opts := coalescingOptions()
	opts.Policy.MaxCoalesce = window
	op := env.StartOperatorWith(t, ns, opts, cfg, nil)
	token := env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
	us := env.CreateSession(t, testenv.NewSession(ns, "slow-refresh", 3600))
	keepAlive := func() (time.Duration, bool) {
		sent := time.Now()
		code, body := keepAliveWith(op.RESTURL, us.Status.ID, "", "Authorization", "Bearer "+token)
		if code != 204 {
			t.Errorf("keep-alive: %d %s", code, body)
		}
		return time.Since(sent), code == 204
	}
	keepAlive() // the token's review and access decision are cached before the API server slows down
	writes := watchLastActivity(t, ns)
	proxy.Delay(delay)

	var mu sync.Mutex
	var slowest time.Duration
	firstSent, lastSent, lastAnswered := time.Now(), time.Time{}, time.Time{}
	stop := inLoops(2, func() {
		sent := time.Now()
		took, ok := keepAlive()
		mu.Lock()
		defer mu.Unlock()
		slowest = max(slowest, took)
		if ok {
			lastSent, lastAnswered = sent, time.Now()
		}
	})
	time.Sleep(4 * window)
	stop()
	if slowest >= delay {
		t.Errorf("the slowest keep-alive took %v: it waited for a write (each takes at least %v)", slowest, delay)
	}
	cur := settle(t, us, 2*delay) // the last refresh lands: each takes the delay and less than as much again
	if last := cur.Status.LastActivity.Time; last.Before(lastSent.Add(-2 * window)) {
		t.Errorf("lastActivity %v, two windows or more before the last keep-alive %v", last, lastSent)
	}
	seen := writes.of(us.Name)
	if len(seen) < 2 {
		t.Errorf("lastActivity written %d times in %v of keep-alives, want a refresh per window", len(seen), 4*window)
	}
	for _, at := range seen {
		if at.Before(firstSent) || at.After(lastAnswered) {
			t.Errorf("lastActivity written as %v, not the time of a keep-alive (sent from %v, answered until %v)",
				at, firstSent, lastAnswered)
		}
	}
	t.Logf("slowest keep-alive %v; %d writes of lastActivity", slowest.Round(time.Millisecond), len(seen))
}

// TestStoppingReplicaWritesWhatItQueued stops the operator right after a keep-alive it answered
// without a write and queued for the next refresh, as a rolling upgrade stops a replica: the
// replica writes that keep-alive before it exits instead of dropping it.
func TestStoppingReplicaWritesWhatItQueued(t *testing.T) {
	const window = 2 * time.Second
	ns, op, token := startWithWindow(t, window)
	us := env.CreateSession(t, testenv.NewSession(ns, "queued", 3600))

	// Within the window's last RefreshLead: answered without a write, and queued.
	time.Sleep(time.Until(us.Status.LastActivity.Add(window - session.RefreshLead/2)))
	sent := time.Now()
	if code, body := keepAliveWith(op.RESTURL, us.Status.ID, "", "Authorization", "Bearer "+token); code != 204 {
		t.Fatalf("keep-alive: %d %s", code, body)
	}
	answered := time.Now()
	op.Stop() // well within refresh.Interval of the keep-alive, unless the machine stalls
	stopped := time.Since(answered)
	last := get(t, us).Status.LastActivity.Time
	if last.Before(sent.Truncate(time.Microsecond)) || last.After(answered) {
		t.Errorf("lastActivity %v once the replica stopped, want the queued keep-alive's, from %v to %v",
			last, sent, answered)
	}
	t.Logf("stopped %v after the keep-alive was answered", stopped.Round(time.Millisecond))
}

// startWithWindow runs the operator in a new namespace with a coalescing window of window for
// the sessions of the tests, whose timeout is an hour (so the window is MaxCoalesce), and
// returns the namespace, the operator and the token of an uploader there.
func startWithWindow(t *testing.T, window time.Duration) (string, *testenv.Operator, string) {
	t.Helper()
	ns := env.Namespace(t)
	opts := coalescingOptions()
	opts.Policy.MaxCoalesce = window
	op := env.StartOperator(t, ns, opts)
	return ns, op, env.ServiceAccount(t, ns, "uploader", testenv.EditorVerbs...).Token
}

// settle waits up to 10 s for us to stay unchanged for quiet, and returns it.
func settle(t *testing.T, us *v1alpha1.UpdateSession, quiet time.Duration) *v1alpha1.UpdateSession {
	t.Helper()
	cur, since := get(t, us), time.Now()
	for deadline := since.Add(10 * time.Second); time.Since(since) < quiet; time.Sleep(quiet / 10) {
		if time.Now().After(deadline) {
			t.Fatalf("%s kept changing", us.Name)
		}
		if next := get(t, us); next.ResourceVersion != cur.ResourceVersion {
			cur, since = next, time.Now()
		}
	}
	return cur
}

// lastActivities records, per session, each new lastActivity a watch delivered.
type lastActivities struct {
	mu   sync.Mutex
	seen map[string][]time.Time
}

// watchLastActivity watches the sessions of ns until the test ends.
func watchLastActivity(t *testing.T, ns string) *lastActivities {
	t.Helper()
	w, err := env.Client.Watch(t.Context(), &v1alpha1.UpdateSessionList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	la := &lastActivities{seen: map[string][]time.Time{}}
	go func() {
		for ev := range w.ResultChan() {
			us, ok := ev.Object.(*v1alpha1.UpdateSession)
			if !ok || ev.Type != watch.Modified || us.Status.LastActivity == nil {
				continue
			}
			la.mu.Lock()
			if seen := la.seen[us.Name]; len(seen) == 0 || !seen[len(seen)-1].Equal(us.Status.LastActivity.Time) {
				la.seen[us.Name] = append(seen, us.Status.LastActivity.Time)
			}
			la.mu.Unlock()
		}
	}()
	return la
}

func (la *lastActivities) of(name string) []time.Time {
	la.mu.Lock()
	defer la.mu.Unlock()
	return la.seen[name]
}
