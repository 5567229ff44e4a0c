package events

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sevents "k8s.io/client-go/tools/events"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// TestDeletionsFoldPastTheirRate checks that on time, each deletion has its own event until
// the event rate's burst is used up, and the rest are folded into one event per namespace that
// counts them; late deletions are folded at once.
func TestDeletionsFoldPastTheirRate(t *testing.T) {
	const n = 3 * qps
	recorder := k8sevents.NewFakeRecorder(2 * n)
	d := NewDeletions(recorder)
	for i := range n {
		d.Record(newSession("burst", fmt.Sprintf("s-%03d", i)), ReasonExpired, 0, "idle")
	}
	d.Record(newSession("late", "behind"), ReasonRetentionOver, 5*time.Second, "over")
	individual := len(recorder.Events)
	// The burst is twice the rate; the few allowed meanwhile are the rate times the run's length.
	if individual < 2*qps || individual > 2*qps+10 {
		t.Fatalf("%d events recorded one by one, want the burst of %d (+ a few)", individual, 2*qps)
	}
	for range individual {
		if ev := <-recorder.Events; !strings.HasPrefix(ev, "Normal Expired idle") {
			t.Fatalf("event %q, want Normal Expired", ev)
		}
	}
	d.flush()
	got := map[string]string{}
	for len(recorder.Events) > 0 {
		ev := <-recorder.Events
		fields := strings.SplitN(ev, " ", 3)
		got[fields[1]] = fields[2]
	}
	if want := fmt.Sprintf("%d sessions of this namespace expired", n-individual); !strings.HasPrefix(got[ReasonExpiredBurst], want) {
		t.Errorf("%s event %q, want it to start %q", ReasonExpiredBurst, got[ReasonExpiredBurst], want)
	}
	if want := "1 session of this namespace ended"; !strings.HasPrefix(got[ReasonRetentionOverBurst], want) ||
		!strings.Contains(got[ReasonRetentionOverBurst], "(behind)") {
		t.Errorf("%s event %q, want it to start %q and name the session", ReasonRetentionOverBurst,
			got[ReasonRetentionOverBurst], want)
	}
	if len(got) != 2 {
		t.Errorf("folded events %v, want one per namespace and reason", got)
	}
}

// newSession is a session named name in namespace: all an event needs of it.
func newSession(namespace, name string) *v1alpha1.UpdateSession {
	return &v1alpha1.UpdateSession{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}
