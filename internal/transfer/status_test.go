package transfer

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func sessionWith(state v1alpha1.SessionState, f v1alpha1.SessionFile) *v1alpha1.UpdateSession {
	us := &v1alpha1.UpdateSession{Status: v1alpha1.UpdateSessionStatus{Lifecycle: v1alpha1.Lifecycle{ID: "s1", State: state}}}
	f.Name, f.TransferID = "disk.vmdk", "t1"
	if f.SourceType == "" {
		f.SourceType = v1alpha1.SourcePush
	}
	us.Status.Files = []v1alpha1.SessionFile{f}
	return us
}

func beatAt(t time.Time) *metav1.MicroTime { m := metav1.NewMicroTime(t); return &m }

func TestClaim(t *testing.T) {
	const fresh = 15 * time.Second
	cases := []struct {
		name    string
		us      *v1alpha1.UpdateSession
		id      string
		wantErr vapi.ErrorType
	}{
		{"a waiting file is claimed", sessionWith(v1alpha1.StateActive, v1alpha1.SessionFile{Status: v1alpha1.TransferWaiting}), "t1", ""},
		{"a failed file starts over", sessionWith(v1alpha1.StateActive, v1alpha1.SessionFile{Status: v1alpha1.TransferError,
			BytesTransferred: 7, ErrorMessage: "cut"}), "t1", ""},
		{"a file whose transfer's heartbeat is 15s old is taken over: that transfer died",
			sessionWith(v1alpha1.StateActive, v1alpha1.SessionFile{Status: v1alpha1.TransferTransferring,
				TransferHeartbeat: beatAt(t0.Add(-fresh))}), "t1", ""},
		{"a file whose transfer's heartbeat is 14s old is busy",
			sessionWith(v1alpha1.StateActive, v1alpha1.SessionFile{Status: v1alpha1.TransferTransferring,
				TransferHeartbeat: beatAt(t0.Add(-14 * time.Second))}), "t1", vapi.ResourceBusy},
		{"a READY file is not sent again", sessionWith(v1alpha1.StateActive, v1alpha1.SessionFile{Status: v1alpha1.TransferReady}),
			"t1", vapi.NotAllowedInCurrentState},
		{"a PULL file takes no upload", sessionWith(v1alpha1.StateActive, v1alpha1.SessionFile{SourceType: v1alpha1.SourcePull,
			Status: v1alpha1.TransferWaiting}), "t1", vapi.NotAllowedInCurrentState},
		{"a canceled session takes no bytes", sessionWith(v1alpha1.StateCanceled, v1alpha1.SessionFile{Status: v1alpha1.TransferWaiting}),
			"t1", vapi.NotAllowedInCurrentState},
		{"an id of an earlier add names no file", sessionWith(v1alpha1.StateActive, v1alpha1.SessionFile{Status: v1alpha1.TransferWaiting}),
			"t0", vapi.NotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			beat, err := Claim(tc.us, tc.id, t0, fresh)
			if tc.wantErr != "" {
				var verr *vapi.Error
				if !errors.As(err, &verr) || verr.Type != tc.wantErr {
					t.Fatalf("Claim = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := v1alpha1.SessionFile{Name: "disk.vmdk", TransferID: "t1", SourceType: v1alpha1.SourcePush,
				Status: v1alpha1.TransferTransferring, TransferHeartbeat: beatAt(t0)}
			if diff := cmp.Diff(want, tc.us.Status.Files[0]); diff != "" || !beat.Equal(beatAt(t0)) {
				t.Fatalf("claimed file (-want +got):\n%s, heartbeat %v", diff, beat)
			}
		})
	}
}

func TestAClaimHoldsItsFileUntilAnotherTakesIt(t *testing.T) {
	us := sessionWith(v1alpha1.StateActive, v1alpha1.SessionFile{Status: v1alpha1.TransferWaiting})
	beat, err := Claim(us, "t1", t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Two beats within one microsecond still differ: each write is told from the last.
	next, err := Beat(us, "disk.vmdk", beat, 10, t0)
	if err != nil || !next.After(beat.Time) || us.Status.Files[0].BytesTransferred != 10 {
		t.Fatalf("Beat = %v, %v; file %+v", next, err, us.Status.Files[0])
	}
	if _, err := Beat(us, "disk.vmdk", beat, 20, t0.Add(time.Second)); !errors.Is(err, ErrLost) {
		t.Fatalf("a beat with a superseded heartbeat: %v, want ErrLost", err)
	}
	// A transfer whose heartbeat went stale is taken over; the old one finds its claim lost.
	later, err := Claim(us, "t1", t0.Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := Ready(us, "disk.vmdk", next, 10, "SHA256", "ab"); !errors.Is(err, ErrLost) {
		t.Fatalf("the old transfer's end: %v, want ErrLost", err)
	}
	if err := Failed(us, "disk.vmdk", later, 3, "cut\nshort"); err != nil {
		t.Fatal(err)
	}
	want := v1alpha1.SessionFile{Name: "disk.vmdk", TransferID: "t1", SourceType: v1alpha1.SourcePush,
		Status: v1alpha1.TransferError, BytesTransferred: 3, ErrorMessage: "cut short"}
	if diff := cmp.Diff(want, us.Status.Files[0]); diff != "" {
		t.Fatalf("failed file (-want +got):\n%s", diff)
	}
	again, err := Claim(us, "t1", t0.Add(2*time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := Ready(us, "disk.vmdk", again, 10, "SHA256", "ab"); err != nil {
		t.Fatal(err)
	}
	want = v1alpha1.SessionFile{Name: "disk.vmdk", TransferID: "t1", SourceType: v1alpha1.SourcePush,
		Status: v1alpha1.TransferReady, BytesTransferred: 10, Size: ptr.To[int64](10),
		Checksum: &v1alpha1.FileChecksum{Algorithm: v1alpha1.ChecksumSHA256, Checksum: "ab"}}
	if diff := cmp.Diff(want, us.Status.Files[0]); diff != "" {
		t.Fatalf("ready file (-want +got):\n%s", diff)
	}
}

func TestAnEndedSessionLosesItsTransfers(t *testing.T) {
	us := sessionWith(v1alpha1.StateActive, v1alpha1.SessionFile{Status: v1alpha1.TransferWaiting})
	beat, err := Claim(us, "t1", t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	us.Status.State = v1alpha1.StateCanceled
	if _, err := Beat(us, "disk.vmdk", beat, 1, t0); !errors.Is(err, ErrLost) {
		t.Fatalf("a beat in a canceled session: %v, want ErrLost", err)
	}
}
