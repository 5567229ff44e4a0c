package transfer

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/content"
)

// Collector deletes, on the leader, what a crash left in the content store: bytes staged by
// sessions that no longer exist (a replica stopped between deleting a session and discarding
// its bytes, a session deleted with kubectl), and records nothing reads any more. The
// reconciler and the REST server discard what they can at once; this finds the rest.
type Collector struct {
	Store *content.Store
	// Reader lists sessions: the manager's cache.
	Reader client.Reader
	// Interval is how often it runs; Grace is how old an orphan must be to go, which spares
	// what a session made a moment ago staged before the cache showed it.
	Interval, Grace time.Duration
	Log             logr.Logger
}

// NeedLeaderElection is true: one replica collects.
func (c *Collector) NeedLeaderElection() bool { return true }

// Start collects at once and then every Interval until ctx is done.
func (c *Collector) Start(ctx context.Context) error {
	ticker := time.NewTicker(c.Interval)
	defer ticker.Stop()
	for {
		c.collect(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// collect runs one Collect, keeping the sessions the cache holds now.
func (c *Collector) collect(ctx context.Context) {
	live, err := c.liveSessions(ctx)
	if err != nil {
		c.Log.Error(err, "Listing sessions for the content collector; it will try again", "in", c.Interval)
		return
	}
	pinned, err := c.pinnedVersions(ctx)
	if err != nil {
		c.Log.Error(err, "Listing download sessions for the content collector; it will try again", "in", c.Interval)
		return
	}
	stats, err := c.Store.Collect(ctx, content.Keep{
		LiveSession: func(namespace string, uid types.UID) bool {
			_, ok := live[sessionRef{namespace, uid}]
			return ok
		},
		Pinned: func(namespace, item string, version int64) bool {
			_, ok := pinned[versionRef{namespace, item, version}]
			return ok
		},
	}, c.Grace)
	if err != nil {
		c.Log.Error(err, "Collecting orphaned content; it will try again", "in", c.Interval)
	}
	if stats.Deleted > 0 {
		c.Log.Info("Collected orphaned content", "scanned", stats.Scanned, "deleted", stats.Deleted, "bytes", stats.DeletedBytes)
	}
}

// versionRef names one content version of an item.
type versionRef struct {
	namespace, item string
	version         int64
}

// pinnedVersions is the set of content versions the download sessions that exist now read.
// A session that pins a version after it was taken is spared by the grace: the collector
// deletes only versions superseded longer ago than that, and a new session pins the latest.
func (c *Collector) pinnedVersions(ctx context.Context) (map[versionRef]struct{}, error) {
	var list v1alpha1.DownloadSessionList
	if err := c.Reader.List(ctx, &list); err != nil {
		return nil, err
	}
	pinned := make(map[versionRef]struct{}, len(list.Items))
	for _, ds := range list.Items {
		if v := ds.Status.ContentVersion; v != 0 {
			pinned[versionRef{ds.Namespace, ds.Spec.LibraryItemID, v}] = struct{}{}
		}
	}
	return pinned, nil
}

type sessionRef struct {
	namespace string
	uid       types.UID
}

// liveSessions is the set of sessions that exist now. A session made after it was taken is
// spared by the grace: its staged bytes are younger than that.
func (c *Collector) liveSessions(ctx context.Context) (map[sessionRef]struct{}, error) {
	var list v1alpha1.UpdateSessionList
	if err := c.Reader.List(ctx, &list); err != nil {
		return nil, err
	}
	live := make(map[sessionRef]struct{}, len(list.Items))
	for _, us := range list.Items {
		live[sessionRef{us.Namespace, us.UID}] = struct{}{}
	}
	return live, nil
}
