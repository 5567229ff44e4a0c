package store

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

func version(rv string) *v1alpha1.UpdateSession {
	return &v1alpha1.UpdateSession{ObjectMeta: metav1.ObjectMeta{UID: "u", ResourceVersion: rv}}
}

func TestOwnWrites(t *testing.T) {
	type write struct{ base, written string }
	cases := []struct {
		name     string
		writes   []write  // successive writes
		observed []string // versions the informer delivered after the writes were recorded
		cached   string
		want     string
	}{
		{"nothing written: the cache", nil, nil, "1", "1"},
		{"cache at our write's base: our write", []write{{"1", "2"}}, nil, "1", "2"},
		{"several writes, cache at the last one's base: our last write", []write{{"1", "2"}, {"2", "3"}, {"3", "4"}}, nil, "3", "4"},
		{"cache several of our writes behind: our last write", []write{{"1", "2"}, {"2", "3"}, {"3", "4"}}, nil, "1", "4"},
		{"cache two of our writes behind, the second based on a live read: the cache",
			[]write{{"1", "2"}, {"5", "6"}}, nil, "1", "1"},
		{"cache caught up with our write: the cache", []write{{"1", "2"}}, nil, "2", "2"},
		{"informer delivered our write before it was recorded, then another writer's: the cache",
			[]write{{"1", "2"}}, nil, "3", "3"},
		{"informer delivered our write, then another writer's: the cache", []write{{"1", "2"}}, []string{"2", "3"}, "3", "3"},
		{"write based on a live read newer than the cache: the cache (a conflict will mend it)",
			[]write{{"5", "6"}}, nil, "4", "4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var o ownWrites[*v1alpha1.UpdateSession]
			for _, w := range tc.writes {
				o.record(version(w.written), w.base, time.Now())
			}
			for _, rv := range tc.observed {
				o.observed(version(rv))
			}
			if got := o.freshest(version(tc.cached)).ResourceVersion; got != tc.want {
				t.Errorf("freshest = version %s, want %s", got, tc.want)
			}
		})
	}
}

func TestOwnWritesForgetWhatTheCacheMovedPast(t *testing.T) {
	var o ownWrites[*v1alpha1.UpdateSession]
	o.record(version("3"), "2", time.Now())
	o.observed(version("2")) // the base: kept
	if len(o.byUID) != 1 {
		t.Fatal("forgot a write the cache has not shown")
	}
	o.observed(version("3")) // our write itself: the events, the last to show it, caught up
	if len(o.byUID) != 0 {
		t.Fatal("still remembers a write the informer's events show")
	}
	o.record(version("5"), "4", time.Now())
	o.observed(version("6"))
	if len(o.byUID) != 0 {
		t.Fatal("still remembers a write the cache moved past")
	}
	for i := range 3 * maxOlder { // a chain of our own writes: bounded memory of older versions
		o.record(version(fmt.Sprint(i+1)), fmt.Sprint(i), time.Now())
	}
	if n := len(o.byUID["u"].older); n != maxOlder {
		t.Fatalf("a chain of writes remembers %d older versions, want %d", n, maxOlder)
	}
}

// TestOwnWritesOfAKeptAliveSessionAreForgotten: a session this store writes every few seconds
// (a client keeping it alive), each write delivered by the informer before the next, is
// remembered for none of them once delivered, however long it is kept alive.
func TestOwnWritesOfAKeptAliveSessionAreForgotten(t *testing.T) {
	var o ownWrites[*v1alpha1.UpdateSession]
	for i := range 2 * maxOlder {
		written := version(fmt.Sprint(i + 1))
		if got := o.freshest(version(fmt.Sprint(i))).ResourceVersion; got != fmt.Sprint(i) {
			t.Fatalf("write %d: freshest = %s, want the cache's %d", i, got, i)
		}
		o.record(written, fmt.Sprint(i), time.Now())
		o.observed(written)
		if len(o.byUID) != 0 {
			t.Fatalf("write %d is still remembered once delivered", i)
		}
	}
}

// TestOwnWritesOutliveALiveReadOfThemselves: a call that reads our write live (the cache lags)
// and writes again, based on it, leaves a write that is newer than the cache's still older
// version too: a later call on that cache sees the last write, not the session before both.
func TestOwnWritesOutliveALiveReadOfThemselves(t *testing.T) {
	var o ownWrites[*v1alpha1.UpdateSession]
	o.record(version("2"), "1", time.Now()) // the create's status write
	if got := o.freshest(version("2")).ResourceVersion; got != "2" {
		t.Fatalf("a live read of our write: freshest = %s, want 2", got)
	}
	o.record(version("3"), "2", time.Now()) // complete, based on the live read
	if got := o.freshest(version("1")).ResourceVersion; got != "3" {
		t.Fatalf("a cache still at the created version: freshest = %s, want our last write 3", got)
	}
}

func TestOwnWritesForgetDeletedSessions(t *testing.T) {
	var o ownWrites[*v1alpha1.UpdateSession]
	o.record(version("3"), "2", time.Now())
	o.forget("u")
	if len(o.byUID) != 0 {
		t.Fatal("still remembers a deleted session")
	}
}

func TestOwnWritesAreBounded(t *testing.T) {
	var o ownWrites[*v1alpha1.UpdateSession]
	start := time.Now()
	for i := range 100 {
		us := version("2")
		us.UID = types.UID(fmt.Sprint(i))
		o.record(us, "1", start)
	}
	o.record(version("3"), "2", start.Add(2*ownWritesTTL)) // prunes what the cache never moved past
	if len(o.byUID) != 1 {
		t.Fatalf("%d writes remembered past their TTL, want only the latest", len(o.byUID)-1)
	}
}

func TestByIDHoldsOnlySessionsWhoseIDIsTheirUID(t *testing.T) {
	var b byID[*v1alpha1.UpdateSession]
	own := version("1")
	own.Status.ID = "u"
	b.set(own)
	impostor := &v1alpha1.UpdateSession{ObjectMeta: metav1.ObjectMeta{UID: "x", ResourceVersion: "1"}}
	impostor.Status.ID = "u2"
	b.set(impostor)
	if got, _ := b.get("u"); got != own {
		t.Fatal("byID lost a session under its UID")
	}
	if _, ok := b.get("u2"); ok {
		t.Fatal("byID holds a session under an id that is not its UID, or lost one that is")
	}
	gone := version("2") // a deletion of the same UID
	b.remove(gone)
	if _, ok := b.get("u"); ok {
		t.Fatal("byID still holds a deleted session")
	}
}
