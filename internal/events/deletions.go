// Package events records the reconciler's events through a client of their own, at a bounded
// rate, and folds the events of deletions under a burst of expiries, so that the API server's
// writes go to the deletions themselves: an event is a write like the delete it reports, and one
// per session would halve the rate at which a burst of expiries is deleted.
package events

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	k8sevents "k8s.io/client-go/tools/events"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// The reasons of deletion events.
const (
	// ReasonExpired says the session was idle past its expiration time and is deleted.
	ReasonExpired = "Expired"
	// ReasonRetentionOver says the session ended longer than --terminal-retention ago and is
	// deleted.
	ReasonRetentionOver = "RetentionOver"
	// ReasonExpiredBurst says sessions expired while the reconciler was behind its deadlines;
	// one event per namespace and FoldInterval counts them (and names a few).
	ReasonExpiredBurst = "ExpiredBurst"
	// ReasonRetentionOverBurst is ReasonExpiredBurst for ended sessions whose retention ran out.
	ReasonRetentionOverBurst = "RetentionOverBurst"
)

// FoldInterval is how often folded deletions are recorded, per namespace.
const FoldInterval = 10 * time.Second

const (
	// qps bounds the events written to the API server and, within it, the per-session deletion
	// events (burst twice as many); past it deletion events are folded too.
	qps = 100
	// behindBy is the lateness past which the reconciler counts as behind its deadlines, and
	// folds deletion events instead of recording one per session.
	behindBy = time.Second
	// namesPerFold is how many deleted sessions a folded event names, in at most maxNamesLength
	// bytes (an event's note is limited to 1 KiB).
	namesPerFold   = 5
	maxNamesLength = 512
)

// NewRecorder returns a recorder of events on the scheme's objects that writes through a client
// of its own, made from cfg and limited to the events' rate, so that events never spend the
// rate budget deletions need. It records until ctx is done.
func NewRecorder(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (k8sevents.EventRecorder, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst, cfg.RateLimiter = qps, 2*qps, nil
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	broadcaster := k8sevents.NewBroadcaster(&k8sevents.EventSinkImpl{Interface: cs.EventsV1()})
	broadcaster.StartRecordingToSink(ctx.Done())
	return broadcaster.NewRecorder(scheme, "updatesession-controller"), nil
}

// Deletions records an event for each deleted session while the reconciler keeps up with its
// deadlines (and within the events' rate). While it is behind, under a burst of expiries, it
// folds them: one event per namespace and reason every FoldInterval says how many sessions were
// deleted and names a few. The deletions metric counts every deletion either way.
type Deletions struct {
	recorder k8sevents.EventRecorder
	limiter  *rate.Limiter

	mu     sync.Mutex
	folded map[foldKey]*fold
}

// foldKey is what deletions are folded by: the sessions' kind, namespace and reason.
type foldKey struct{ kind, namespace, reason string }

// fold is the deletions of one namespace and reason since the last flush.
type fold struct {
	count int
	names []string
	// last is the most recently deleted session: the event is about it.
	last v1alpha1.Session
}

// NewDeletions returns Deletions recording through recorder. Start flushes folds.
func NewDeletions(recorder k8sevents.EventRecorder) *Deletions {
	return &Deletions{
		recorder: recorder,
		limiter:  rate.NewLimiter(qps, 2*qps),
		folded:   map[foldKey]*fold{},
	}
}

// Record reports the deletion of us, late after its deadline, with reason (ReasonExpired or
// ReasonRetentionOver) and note.
func (d *Deletions) Record(us v1alpha1.Session, reason string, late time.Duration, note string) {
	if late < behindBy && d.limiter.Allow() {
		d.recorder.Eventf(us, nil, corev1.EventTypeNormal, reason, "Delete", "%s", note)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k := foldKey{us.Noun(), us.GetNamespace(), reason}
	f := d.folded[k]
	if f == nil {
		f = &fold{}
		d.folded[k] = f
	}
	f.count++
	if len(f.names) < namesPerFold {
		f.names = append(f.names, us.GetName())
	}
	f.last = us
}

// Start flushes the folded deletions every FoldInterval until ctx is done, and once more then.
func (d *Deletions) Start(ctx context.Context) error {
	ticker := time.NewTicker(FoldInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			d.flush()
		case <-ctx.Done():
			d.flush()
			return nil
		}
	}
}

// flush records one event per namespace and reason for the deletions folded since the last.
func (d *Deletions) flush() {
	d.mu.Lock()
	folded := d.folded
	d.folded = map[foldKey]*fold{}
	d.mu.Unlock()
	for k, f := range folded {
		d.recorder.Eventf(f.last, nil, corev1.EventTypeNormal, burstReason(k.reason), "Delete", "%s", f.note(k.reason))
	}
}

// burstReason is the reason of the folded events of deletions with reason.
func burstReason(reason string) string {
	if reason == ReasonRetentionOver {
		return ReasonRetentionOverBurst
	}
	return ReasonExpiredBurst
}

// note says how many sessions the fold holds, why they were deleted, and names a few.
func (f *fold) note(reason string) string {
	what := "expired"
	if reason == ReasonRetentionOver {
		what = "ended longer than the terminal retention ago"
	}
	names := strings.Join(f.names, ", ")
	if len(names) > maxNamesLength {
		names = names[:maxNamesLength]
	}
	if f.count > len(f.names) || len(names) == maxNamesLength {
		names += ", ..."
	}
	sessions := "sessions"
	if f.count == 1 {
		sessions = "session"
	}
	return fmt.Sprintf("%d %s of this namespace %s and were deleted within %v while the operator was "+
		"catching up on their deadlines; their events are folded into this one (%s)", f.count, sessions, what,
		FoldInterval, names)
}
