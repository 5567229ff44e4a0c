package session

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

func file(name string, src v1alpha1.SourceType, st v1alpha1.TransferStatus) v1alpha1.SessionFile {
	return v1alpha1.SessionFile{Name: name, SourceType: src, Status: st}
}

func withFiles(files ...v1alpha1.SessionFile) *v1alpha1.UpdateSession {
	us := newSession(0)
	us.Status.Files = files
	return us
}

// errType is the vAPI type of err, or "" for nil.
func errType(t *testing.T, err error) vapi.ErrorType {
	t.Helper()
	if err == nil {
		return ""
	}
	var verr *vapi.Error
	if !errors.As(err, &verr) {
		t.Fatalf("error %v is not a vAPI error", err)
	}
	return verr.Type
}

func TestAddFile(t *testing.T) {
	waiting := file("a.vmdk", v1alpha1.SourcePush, v1alpha1.TransferWaiting)
	ended := withFiles()
	ended.Status.State = v1alpha1.StateDone
	completing := withFiles()
	completing.Status.CompletionRequested = new(metav1.NewMicroTime(created))
	removed := withFiles()
	removed.Status.RemovedFiles = []string{"a.vmdk", "b.ovf"}
	cases := []struct {
		name        string
		us          *v1alpha1.UpdateSession
		limit       int
		wantErr     vapi.ErrorType
		wantFiles   []string
		wantRemoved []string
	}{
		{"a new name is added", withFiles(), 4, "", []string{"a.vmdk"}, nil},
		{"a name the session has is refused", withFiles(waiting), 4, vapi.InvalidArgument, []string{"a.vmdk"}, nil},
		{"a session at its limit refuses one more", withFiles(file("x", v1alpha1.SourcePush, v1alpha1.TransferReady)), 1,
			vapi.InvalidArgument, []string{"x"}, nil},
		{"an ended session refuses", ended, 4, vapi.NotAllowedInCurrentState, nil, nil},
		{"a completing session refuses", completing, 4, vapi.NotAllowedInCurrentState, nil, nil},
		{"adding a name marked for removal unmarks it", removed, 4, "", []string{"a.vmdk"}, []string{"b.ovf"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pol.AddFile(tc.us, waiting, tc.limit, at(time.Second))
			if got := errType(t, err); got != tc.wantErr {
				t.Fatalf("error %v, want type %q", err, tc.wantErr)
			}
			var names []string
			for _, f := range tc.us.Status.Files {
				names = append(names, f.Name)
			}
			if diff := cmp.Diff(tc.wantFiles, names); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantRemoved, tc.us.Status.RemovedFiles); diff != "" {
				t.Errorf("removedFiles (-want +got):\n%s", diff)
			}
			if tc.wantErr == "" && !tc.us.Status.LastActivity.Time.Equal(at(time.Second)) {
				t.Errorf("an add is the client's activity: lastActivity %v", tc.us.Status.LastActivity)
			}
		})
	}
}

func TestRemoveFile(t *testing.T) {
	cases := []struct {
		name        string
		us          *v1alpha1.UpdateSession
		inItem      bool
		wantWritten bool
		wantErr     vapi.ErrorType
		wantFiles   int
		wantRemoved []string
	}{
		{"a file of the session leaves it", withFiles(file("a", v1alpha1.SourcePush, v1alpha1.TransferReady)), true, true, "", 0, nil},
		{"a file only the item has is marked for removal", withFiles(), true, true, "", 0, []string{"a"}},
		{"a file neither has is not found", withFiles(), false, false, vapi.NotFound, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			written, err := pol.RemoveFile(tc.us, "a", tc.inItem, at(time.Second))
			if got := errType(t, err); got != tc.wantErr || written != tc.wantWritten {
				t.Fatalf("written %v error %v, want %v %q", written, err, tc.wantWritten, tc.wantErr)
			}
			if len(tc.us.Status.Files) != tc.wantFiles {
				t.Errorf("files %v", tc.us.Status.Files)
			}
			if diff := cmp.Diff(tc.wantRemoved, tc.us.Status.RemovedFiles); diff != "" {
				t.Errorf("removedFiles (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("removing a marked file again writes nothing", func(t *testing.T) {
		us := withFiles()
		us.Status.RemovedFiles = []string{"a"}
		if written, err := pol.RemoveFile(us, "a", true, at(time.Second)); written || err != nil {
			t.Fatalf("written %v, error %v", written, err)
		}
	})
}

func TestCompletionOf(t *testing.T) {
	push := func(st v1alpha1.TransferStatus) v1alpha1.SessionFile {
		return file("p-"+string(st), v1alpha1.SourcePush, st)
	}
	pull := func(st v1alpha1.TransferStatus) v1alpha1.SessionFile {
		return file("q-"+string(st), v1alpha1.SourcePull, st)
	}
	ended := withFiles()
	ended.Status.State = v1alpha1.StateCanceled
	cases := []struct {
		name     string
		us       *v1alpha1.UpdateSession
		want     Completion
		wantErr  vapi.ErrorType
		mentions string
	}{
		{"no files completes now", withFiles(), CompleteNow, "", ""},
		{"every file READY completes now", withFiles(push(v1alpha1.TransferReady), pull(v1alpha1.TransferReady)), CompleteNow, "", ""},
		{"a PUSH file WAITING is refused, named", withFiles(push(v1alpha1.TransferReady), push(v1alpha1.TransferWaiting)),
			0, vapi.NotAllowedInCurrentState, `"p-WAITING_FOR_TRANSFER"`},
		{"a PUSH file TRANSFERRING is refused", withFiles(push(v1alpha1.TransferTransferring)), 0, vapi.NotAllowedInCurrentState, "p-TRANSFERRING"},
		{"a file in ERROR is refused", withFiles(pull(v1alpha1.TransferError)), 0, vapi.NotAllowedInCurrentState, "q-ERROR"},
		{"a PULL under way waits", withFiles(push(v1alpha1.TransferReady), pull(v1alpha1.TransferTransferring)), CompleteAfterPulls, "", ""},
		{"a PULL not started waits", withFiles(pull(v1alpha1.TransferWaiting)), CompleteAfterPulls, "", ""},
		{"an ended session is refused", ended, 0, vapi.NotAllowedInCurrentState, "CANCELED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompletionOf(tc.us)
			if errType(t, err) != tc.wantErr || got != tc.want {
				t.Fatalf("got %v, %v; want %v, %q", got, err, tc.want, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("message %q does not name %s", err.Error(), tc.mentions)
			}
		})
	}
}

func TestCompleteRecordsContentVersion(t *testing.T) {
	us := withFiles()
	if _, err := pol.RequestCompletion(us, at(time.Second)); err != nil {
		t.Fatal(err)
	}
	if written, err := pol.RequestCompletion(us, at(2*time.Second)); written || err != nil {
		t.Fatalf("a second request wrote %v, %v: the first time stands", written, err)
	}
	if _, err := pol.Complete(us, 7, at(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if us.Status.State != v1alpha1.StateDone || us.Status.ContentVersion != 7 ||
		!us.Status.CompletionRequested.Time.Equal(at(time.Second)) {
		t.Fatalf("status %+v", us.Status)
	}
	if _, err := pol.Complete(us, 8, at(4*time.Second)); errType(t, err) != vapi.NotAllowedInCurrentState {
		t.Fatalf("completing a DONE session again: %v", err)
	}
}
