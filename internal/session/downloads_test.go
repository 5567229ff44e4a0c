package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

func newDownload(state v1alpha1.SessionState, files ...v1alpha1.DownloadFile) *v1alpha1.DownloadSession {
	ds := &v1alpha1.DownloadSession{ObjectMeta: metav1.ObjectMeta{
		UID: "uid-d", Generation: 1, CreationTimestamp: metav1.NewTime(created)}}
	pol.Sync(ds, created)
	ds.Status.State = state
	ds.Status.Files = files
	return ds
}

func TestPrepareFile(t *testing.T) {
	prepared := v1alpha1.DownloadFile{Name: "a.txt", Status: v1alpha1.PreparePrepared, Size: 3, TransferID: "first"}
	again := v1alpha1.DownloadFile{Name: "a.txt", Status: v1alpha1.PreparePrepared, Size: 3, TransferID: "second"}
	failed := v1alpha1.DownloadFile{Name: "a.txt", Status: v1alpha1.PrepareError, ErrorMessage: "gone"}
	full := make([]v1alpha1.DownloadFile, MaxDownloadFiles)
	for i := range full {
		full[i] = v1alpha1.DownloadFile{Name: fmt.Sprintf("f%d", i), Status: v1alpha1.PreparePrepared}
	}
	cases := []struct {
		name      string
		session   *v1alpha1.DownloadSession
		prepare   v1alpha1.DownloadFile
		wantErr   vapi.ErrorType
		wantFile  *v1alpha1.DownloadFile
		wantCount int
	}{
		{"a first prepare records the file", newDownload(v1alpha1.StateActive), prepared, "", &prepared, 1},
		{"a second prepare keeps the transfer id of the PREPARED file", newDownload(v1alpha1.StateActive, prepared),
			again, "", &prepared, 1},
		{"a prepare of a file in ERROR tries again", newDownload(v1alpha1.StateActive, failed), prepared, "", &prepared, 1},
		{"a file whose bytes are missing is recorded in ERROR", newDownload(v1alpha1.StateActive), failed, "", &failed, 1},
		{"a canceled session is refused", newDownload(v1alpha1.StateCanceled), prepared, vapi.NotAllowedInCurrentState, nil, 0},
		{"a session in ERROR is refused", newDownload(v1alpha1.StateError), prepared, vapi.NotAllowedInCurrentState, nil, 0},
		{"a session with as many files as it may hold is refused a new one", newDownload(v1alpha1.StateActive, full...),
			prepared, vapi.InvalidArgument, nil, MaxDownloadFiles},
		{"a session with as many files as it may hold prepares one of them again",
			newDownload(v1alpha1.StateActive, full...), v1alpha1.DownloadFile{Name: "f0", Status: v1alpha1.PreparePrepared},
			"", &full[0], MaxDownloadFiles},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.session.Status.LastActivity.DeepCopy()
			changed, err := pol.PrepareFile(tc.session, tc.prepare, at(30*time.Second))
			if got := errType(t, err); got != tc.wantErr {
				t.Fatalf("error %v, want %s", err, tc.wantErr)
			}
			if changed != (tc.wantErr == "") {
				t.Fatalf("changed = %v", changed)
			}
			if n := len(tc.session.Status.Files); n != tc.wantCount {
				t.Fatalf("%d files, want %d", n, tc.wantCount)
			}
			if tc.wantFile != nil {
				if diff := cmp.Diff(*tc.wantFile, *DownloadFile(tc.session, tc.prepare.Name)); diff != "" {
					t.Fatalf("file (-want +got):\n%s", diff)
				}
			}
			touched := !tc.session.Status.LastActivity.Equal(before)
			if touched != (tc.wantErr == "") {
				t.Fatalf("lastActivity moved: %v, want %v", touched, tc.wantErr == "")
			}
		})
	}
}
