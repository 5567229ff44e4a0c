package rest

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

func version(rv string) *v1alpha1.UpdateSession {
	return &v1alpha1.UpdateSession{ObjectMeta: metav1.ObjectMeta{UID: "u", ResourceVersion: rv}}
}

func TestOwnWrites(t *testing.T) {
	cases := []struct {
		name   string
		writes [][2]string // before, after resourceVersions
		cached string
		want   string
	}{
		{"nothing written: the cache", nil, "1", "1"},
		{"cache one write behind: our write", [][2]string{{"1", "2"}}, "1", "2"},
		{"cache three writes behind: our last write", [][2]string{{"1", "2"}, {"2", "3"}, {"3", "4"}}, "2", "4"},
		{"cache caught up: the cache", [][2]string{{"1", "2"}}, "2", "2"},
		{"someone else wrote since: the cache", [][2]string{{"1", "2"}}, "7", "7"},
		{"a write not built on ours starts a new chain", [][2]string{{"1", "2"}, {"5", "6"}}, "1", "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var o ownWrites
			for _, w := range tc.writes {
				o.record(version(w[0]), version(w[1]))
			}
			if got := o.freshest(version(tc.cached)).ResourceVersion; got != tc.want {
				t.Errorf("freshest = version %s, want %s", got, tc.want)
			}
		})
	}
}
