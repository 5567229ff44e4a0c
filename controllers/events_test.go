package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/events"

	"github.com/contentlib/update-session-operator/controllers"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// TestDeletionEventsFoldPastTheirRate: on time, each deletion has its own event until the
// event rate's burst is used up; the rest are folded into one event per namespace that counts
// them. Late deletions are folded at once.
func TestDeletionEventsFoldPastTheirRate(t *testing.T) {
	const n = 3 * controllers.EventQPS
	recorder := events.NewFakeRecorder(2 * n)
	d := controllers.NewDeletionEvents(recorder)
	for i := range n {
		d.Record(testenv.NewSession("burst", fmt.Sprintf("s-%03d", i), 0), controllers.ReasonExpired, 0, "idle")
	}
	d.Record(testenv.NewSession("late", "behind", 0), controllers.ReasonRetentionOver, 5*time.Second, "over")
	individual := len(recorder.Events)
	// The burst is twice the rate; the few allowed meanwhile are the rate times the run's length.
	if individual < 2*controllers.EventQPS || individual > 2*controllers.EventQPS+10 {
		t.Fatalf("%d events recorded one by one, want the burst of %d (+ a few)", individual, 2*controllers.EventQPS)
	}
	for range individual {
		if ev := <-recorder.Events; !strings.HasPrefix(ev, "Normal Expired idle") {
			t.Fatalf("event %q, want Normal Expired", ev)
		}
	}
	flushFolded(d)
	got := map[string]string{}
	for len(recorder.Events) > 0 {
		ev := <-recorder.Events
		fields := strings.SplitN(ev, " ", 3)
		got[fields[1]] = fields[2]
	}
	if want := fmt.Sprintf("%d sessions of this namespace expired", n-individual); !strings.HasPrefix(got["ExpiredBurst"], want) {
		t.Errorf("ExpiredBurst event %q, want it to start %q", got["ExpiredBurst"], want)
	}
	if want := "1 session of this namespace ended"; !strings.HasPrefix(got["RetentionOverBurst"], want) ||
		!strings.Contains(got["RetentionOverBurst"], "(behind)") {
		t.Errorf("RetentionOverBurst event %q, want it to start %q and name the session", got["RetentionOverBurst"], want)
	}
	if len(got) != 2 {
		t.Errorf("folded events %v, want one per namespace and reason", got)
	}
}
