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
	cases := []struct {
		name     string
		written  []string // resourceVersions of successive writes
		observed []string // versions the informer delivered since
		cached   string
		want     string
	}{
		{"nothing written: the cache", nil, nil, "1", "1"},
		{"cache one write behind: our write", []string{"2"}, nil, "1", "2"},
		{"cache several writes behind: our last write", []string{"2", "3", "4"}, []string{"2"}, "2", "4"},
		{"cache behind our first write, at its initial version: our write", []string{"9"}, nil, "1", "9"},
		{"cache caught up: the cache", []string{"2"}, nil, "2", "2"},
		{"informer delivered our write, then another writer's: the cache", []string{"2"}, []string{"2", "3"}, "3", "3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var o ownWrites
			for _, rv := range tc.written {
				o.record(version(rv), time.Now())
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

func TestOwnWritesForgetWhatTheCacheShows(t *testing.T) {
	var o ownWrites
	o.record(version("3"), time.Now())
	o.observed(version("2")) // older: kept
	if len(o.byUID) != 1 {
		t.Fatal("forgot a write the cache has not shown")
	}
	o.observed(version("3"))
	if len(o.byUID) != 0 {
		t.Fatal("still remembers a write the cache shows")
	}
}

func TestOwnWritesForgetDeletedSessions(t *testing.T) {
	var o ownWrites
	o.record(version("3"), time.Now())
	o.forget("u")
	if len(o.byUID) != 0 {
		t.Fatal("still remembers a deleted session")
	}
}

func TestOwnWritesAreBounded(t *testing.T) {
	var o ownWrites
	start := time.Now()
	for i := range 100 {
		us := version("1")
		us.UID = types.UID(fmt.Sprint(i))
		o.record(us, start)
	}
	o.record(version("2"), start.Add(2*ownWritesTTL)) // prunes what the cache never showed
	if len(o.byUID) != 1 {
		t.Fatalf("%d writes remembered past their TTL, want only the latest", len(o.byUID)-1)
	}
}
