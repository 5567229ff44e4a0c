package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
)

// TestUpdateSessionChangedPassesWhatSettlePullsActsOn: a transfer that starts, ends or is
// handed over triggers a reconcile; its progress (bytes, heartbeats) does not.
func TestUpdateSessionChangedPassesWhatSettlePullsActsOn(t *testing.T) {
	at := func(s int) *metav1.MicroTime { b := metav1.NewMicroTime(time.Unix(int64(s), 0)); return &b }
	running := v1alpha1.SessionFile{Name: "disk.vmdk", SourceType: v1alpha1.SourcePull,
		Status: v1alpha1.TransferTransferring, TransferHeartbeat: at(1), BytesTransferred: 1}
	for _, tc := range []struct {
		name   string
		change func(f *v1alpha1.SessionFile)
		want   bool
	}{
		{"progress", func(f *v1alpha1.SessionFile) { f.TransferHeartbeat, f.BytesTransferred = at(2), 2 }, false},
		{"handed over", func(f *v1alpha1.SessionFile) { f.TransferHeartbeat = nil }, true},
		{"ended", func(f *v1alpha1.SessionFile) { f.Status, f.TransferHeartbeat = v1alpha1.TransferReady, nil }, true},
	} {
		old := &v1alpha1.UpdateSession{}
		old.Status.ID = "id" // initialised: an uninitialised session is always reconciled
		old.Status.Files = []v1alpha1.SessionFile{running}
		cur := old.DeepCopy()
		tc.change(&cur.Status.Files[0])
		if got := updateSessionChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: cur}); got != tc.want {
			t.Errorf("%s: reconciled %v, want %v", tc.name, got, tc.want)
		}
	}
}
