package transfer

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

func TestClaimBySourceType(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	fresh := 15 * time.Second
	stale := metav1.NewMicroTime(now.Add(-time.Minute))
	live := metav1.NewMicroTime(now.Add(-time.Second))
	cases := []struct {
		name    string
		claim   func(*v1alpha1.UpdateSession, string, time.Time, time.Duration) (metav1.MicroTime, error)
		file    v1alpha1.SessionFile
		state   v1alpha1.SessionState
		wantErr vapi.ErrorType
	}{
		{name: "a PULL file waiting is claimed by ClaimPull", claim: ClaimPull,
			file: v1alpha1.SessionFile{SourceType: v1alpha1.SourcePull, Status: v1alpha1.TransferWaiting}},
		{name: "a PULL file whose transfer died is claimed again", claim: ClaimPull,
			file: v1alpha1.SessionFile{SourceType: v1alpha1.SourcePull, Status: v1alpha1.TransferTransferring, TransferHeartbeat: &stale}},
		{name: "a PULL file whose transfer runs is busy", claim: ClaimPull, wantErr: vapi.ResourceBusy,
			file: v1alpha1.SessionFile{SourceType: v1alpha1.SourcePull, Status: v1alpha1.TransferTransferring, TransferHeartbeat: &live}},
		{name: "a PULL file is not the client's to send", claim: Claim, wantErr: vapi.NotAllowedInCurrentState,
			file: v1alpha1.SessionFile{SourceType: v1alpha1.SourcePull, Status: v1alpha1.TransferWaiting}},
		{name: "a PUSH file is not the server's to fetch", claim: ClaimPull, wantErr: vapi.NotAllowedInCurrentState,
			file: v1alpha1.SessionFile{SourceType: v1alpha1.SourcePush, Status: v1alpha1.TransferWaiting}},
		{name: "no PULL in a session that ended", claim: ClaimPull, state: v1alpha1.StateCanceled, wantErr: vapi.NotAllowedInCurrentState,
			file: v1alpha1.SessionFile{SourceType: v1alpha1.SourcePull, Status: v1alpha1.TransferWaiting}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.file.Name, tc.file.TransferID = "disk.vmdk", "t1"
			us := &v1alpha1.UpdateSession{}
			us.Status.State = v1alpha1.StateActive
			if tc.state != "" {
				us.Status.State = tc.state
			}
			us.Status.Files = []v1alpha1.SessionFile{tc.file}
			beat, err := tc.claim(us, "t1", now, fresh)
			if tc.wantErr != "" {
				var verr *vapi.Error
				if !errors.As(err, &verr) || verr.Type != tc.wantErr {
					t.Fatalf("claim = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := us.Status.Files[0]
			if f.Status != v1alpha1.TransferTransferring || f.TransferHeartbeat == nil || !f.TransferHeartbeat.Equal(&beat) {
				t.Fatalf("claimed file %+v, want TRANSFERRING with the claim's heartbeat", f)
			}
		})
	}
}

func TestEndDeadPulls(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	fresh := 15 * time.Second
	at := func(ago time.Duration) *metav1.MicroTime { b := metav1.NewMicroTime(now.Add(-ago)); return &b }
	pull := func(name string, st v1alpha1.TransferStatus, beat *metav1.MicroTime) v1alpha1.SessionFile {
		return v1alpha1.SessionFile{Name: name, SourceType: v1alpha1.SourcePull, Status: st, TransferHeartbeat: beat}
	}
	us := &v1alpha1.UpdateSession{}
	us.Status.Files = []v1alpha1.SessionFile{
		pull("dead", v1alpha1.TransferTransferring, at(16*time.Second)),
		pull("running", v1alpha1.TransferTransferring, at(5*time.Second)),
		pull("younger", v1alpha1.TransferTransferring, at(time.Second)),
		pull("waiting", v1alpha1.TransferWaiting, nil),
		{Name: "pushed", SourceType: v1alpha1.SourcePush, Status: v1alpha1.TransferTransferring, TransferHeartbeat: at(time.Hour)},
	}
	changed, next := EndDeadPulls(us, now, fresh)
	if !changed || next != 10*time.Second {
		t.Errorf("EndDeadPulls = %v, %s; want true, 10s (when the running one goes stale)", changed, next)
	}
	want := []v1alpha1.TransferStatus{v1alpha1.TransferError, v1alpha1.TransferTransferring, v1alpha1.TransferTransferring,
		v1alpha1.TransferWaiting, v1alpha1.TransferTransferring}
	for i, f := range us.Status.Files {
		if f.Status != want[i] {
			t.Errorf("file %s: %s, want %s (a PUSH is ended by the next PUT, not here)", f.Name, f.Status, want[i])
		}
	}
	if f := us.Status.Files[0]; f.ErrorMessage != DeadPullMessage || f.TransferHeartbeat != nil {
		t.Errorf("the dead PULL: %+v", f)
	}
	if changed, next := EndDeadPulls(us, now, fresh); changed || next != 10*time.Second {
		t.Errorf("EndDeadPulls again = %v, %s; want nothing changed", changed, next)
	}

	if ended, _ := PullsEnded(us); ended {
		t.Error("PullsEnded with PULLs running")
	}
	us.Status.Files = us.Status.Files[:1]
	if ended, failed := PullsEnded(us); !ended || len(failed) != 1 || !strings.Contains(failed[0], `"dead"`) {
		t.Errorf("PullsEnded = %v, %v; want ended, the dead one failed", ended, failed)
	}
}
