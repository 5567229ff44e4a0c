package transfer

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
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

func TestSettleDeadPulls(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	fresh := 15 * time.Second
	at := func(ago time.Duration) *metav1.MicroTime { b := metav1.NewMicroTime(now.Add(-ago)); return &b }
	pull := func(name string, st v1alpha1.TransferStatus, beat *metav1.MicroTime, restarts int32) v1alpha1.SessionFile {
		return v1alpha1.SessionFile{Name: name, SourceType: v1alpha1.SourcePull, Status: st, TransferHeartbeat: beat,
			FetchRestarts: restarts}
	}
	files := func() []v1alpha1.SessionFile {
		return []v1alpha1.SessionFile{
			pull("died", v1alpha1.TransferTransferring, at(16*time.Second), MaxFetchRestarts-1),
			pull("died too often", v1alpha1.TransferTransferring, at(16*time.Second), MaxFetchRestarts),
			pull("handed over", v1alpha1.TransferTransferring, nil, 0),
			pull("handed over too often", v1alpha1.TransferTransferring, nil, MaxFetchRestarts),
			pull("running", v1alpha1.TransferTransferring, at(5*time.Second), 0),
			pull("younger", v1alpha1.TransferTransferring, at(time.Second), 0),
			pull("waiting", v1alpha1.TransferWaiting, nil, 0),
			{Name: "pushed", SourceType: v1alpha1.SourcePush, Status: v1alpha1.TransferTransferring, TransferHeartbeat: at(time.Hour)},
		}
	}
	statuses := func(us *v1alpha1.UpdateSession) []v1alpha1.TransferStatus {
		got := make([]v1alpha1.TransferStatus, 0, len(us.Status.Files))
		for _, f := range us.Status.Files {
			got = append(got, f.Status)
		}
		return got
	}
	const transferring, failed, waiting = v1alpha1.TransferTransferring, v1alpha1.TransferError, v1alpha1.TransferWaiting

	us := &v1alpha1.UpdateSession{}
	us.Status.Files = files()
	restart, ended, next := SettleDeadPulls(us, now, fresh, true)
	if !slices.Equal(restart, []string{"died", "handed over"}) ||
		!slices.Equal(ended, []string{"died too often", "handed over too often"}) || next != 10*time.Second {
		t.Errorf("SettleDeadPulls = %q, %q, %s; want the one that died and the one handed over fetched anew, "+
			"those fetched anew too often ended, and 10s (when the running one goes stale)", restart, ended, next)
	}
	// A PUSH is ended by the next PUT, not here.
	want := []v1alpha1.TransferStatus{transferring, failed, transferring, failed, transferring, transferring, waiting, transferring}
	if got := statuses(us); !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if f := us.Status.Files[1]; f.ErrorMessage != DeadPullMessage || f.TransferHeartbeat != nil {
		t.Errorf("the PULL that died too often: %+v", f)
	}

	// Without restarts (no REST server on the replica), every dead fetch ends.
	us.Status.Files = files()
	restart, ended, _ = SettleDeadPulls(us, now, fresh, false)
	want = []v1alpha1.TransferStatus{failed, failed, failed, failed, transferring, transferring, waiting, transferring}
	if got := statuses(us); len(restart) != 0 || len(ended) != 4 || !slices.Equal(got, want) {
		t.Errorf("SettleDeadPulls without restarts = %q, %q, statuses %v; want none fetched anew, %v", restart, ended, got, want)
	}
	if restart, ended, next := SettleDeadPulls(us, now, fresh, false); len(restart) != 0 || len(ended) != 0 || next != 10*time.Second {
		t.Errorf("SettleDeadPulls again = %q, %q, %s; want nothing changed", restart, ended, next)
	}

	if ended, _ := PullsEnded(us); ended {
		t.Error("PullsEnded with PULLs running")
	}
	us.Status.Files = us.Status.Files[:1]
	if ended, failed := PullsEnded(us); !ended || len(failed) != 1 || !strings.Contains(failed[0], `"died"`) {
		t.Errorf("PullsEnded = %v, %v; want ended, the dead one failed", ended, failed)
	}
}

func TestClaimRestart(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	fresh := 15 * time.Second
	old, young := metav1.NewMicroTime(now.Add(-time.Minute)), metav1.NewMicroTime(now.Add(-time.Second))
	session := func(f v1alpha1.SessionFile) *v1alpha1.UpdateSession {
		us := &v1alpha1.UpdateSession{}
		us.Status.State = v1alpha1.StateActive
		f.Name, f.TransferID = "disk.vmdk", "t1"
		if f.SourceType == "" {
			f.SourceType = v1alpha1.SourcePull
		}
		us.Status.Files = []v1alpha1.SessionFile{f}
		return us
	}

	// A fetch that died, and one handed over, are fetched anew from the first byte; each counts.
	us := session(v1alpha1.SessionFile{Status: v1alpha1.TransferTransferring, TransferHeartbeat: &old, BytesTransferred: 7})
	beat, err := ClaimRestart(us, "t1", now, fresh)
	if f := us.Status.Files[0]; err != nil || f.FetchRestarts != 1 || f.BytesTransferred != 0 || !f.TransferHeartbeat.Equal(&beat) {
		t.Fatalf("fetch anew of one that died: %+v, %v; want one restart counted, started over", f, err)
	}
	if err := HandOver(us, "disk.vmdk", beat, 42); err != nil {
		t.Fatal(err)
	}
	if f := us.Status.Files[0]; f.Status != v1alpha1.TransferTransferring || f.TransferHeartbeat != nil || f.BytesTransferred != 42 {
		t.Fatalf("handed over: %+v; want TRANSFERRING, no heartbeat, the bytes that arrived", f)
	}
	if err := HandOver(us, "disk.vmdk", beat, 43); !errors.Is(err, ErrLost) {
		t.Fatalf("hand over by a claim handed over already: %v, want ErrLost", err)
	}
	if _, err := ClaimRestart(us, "t1", now, fresh); err != nil || us.Status.Files[0].FetchRestarts != 2 {
		t.Fatalf("fetch anew of one handed over: %+v, %v; want a second restart counted", us.Status.Files[0], err)
	}

	// Anything settled meanwhile is not fetched anew: it is lost to the restart.
	for name, f := range map[string]v1alpha1.SessionFile{
		"running":           {Status: v1alpha1.TransferTransferring, TransferHeartbeat: &young},
		"ERROR":             {Status: v1alpha1.TransferError, ErrorMessage: "the source failed"},
		"WAITING":           {Status: v1alpha1.TransferWaiting},
		"READY":             {Status: v1alpha1.TransferReady},
		"fetched too often": {Status: v1alpha1.TransferTransferring, FetchRestarts: MaxFetchRestarts},
		"PUSH":              {SourceType: v1alpha1.SourcePush, Status: v1alpha1.TransferTransferring, TransferHeartbeat: &old},
	} {
		us := session(f)
		before := us.DeepCopy()
		if _, err := ClaimRestart(us, "t1", now, fresh); !errors.Is(err, ErrLost) || !equality.Semantic.DeepEqual(us, before) {
			t.Errorf("fetch anew of a file %s: %v, %+v; want ErrLost, the file untouched", name, err, us.Status.Files[0])
		}
	}
}
