package download

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

func sessionWith(state v1alpha1.SessionState, files ...v1alpha1.DownloadFile) *v1alpha1.DownloadSession {
	ds := &v1alpha1.DownloadSession{}
	ds.Status.ID, ds.Status.State, ds.Status.Files = "d1", state, files
	return ds
}

func prepared(name, tid string, size, served int64) v1alpha1.DownloadFile {
	return v1alpha1.DownloadFile{Name: name, TransferID: tid, Status: v1alpha1.PreparePrepared, Size: size, BytesTransferred: served}
}

func TestFileByID(t *testing.T) {
	ds := sessionWith(v1alpha1.StateActive, prepared("a", "t1", 1, 0), prepared("b", "t2", 1, 0),
		v1alpha1.DownloadFile{Name: "c", Status: v1alpha1.PrepareUnprepared})
	if f := FileByID(ds, "t2"); f == nil || f.Name != "b" {
		t.Fatalf("FileByID(t2) = %+v, want file b", f)
	}
	if f := FileByID(ds, ""); f != nil {
		t.Fatalf("FileByID(\"\") = %+v: an empty id names the files never prepared", f)
	}
	if f := FileByID(ds, "t3"); f != nil {
		t.Fatalf("FileByID(t3) = %+v, want none", f)
	}
}

func TestServable(t *testing.T) {
	cases := []struct {
		name  string
		state v1alpha1.SessionState
		file  v1alpha1.DownloadFile
		want  vapi.ErrorType
	}{
		{"a PREPARED file of an ACTIVE session is served", v1alpha1.StateActive, prepared("a", "t1", 1, 0), ""},
		{"a canceled session serves nothing", v1alpha1.StateCanceled, prepared("a", "t1", 1, 0), vapi.NotAllowedInCurrentState},
		{"a failed session serves nothing", v1alpha1.StateError, prepared("a", "t1", 1, 0), vapi.NotAllowedInCurrentState},
		{"a file in ERROR is not served", v1alpha1.StateActive,
			v1alpha1.DownloadFile{Name: "a", TransferID: "t1", Status: v1alpha1.PrepareError}, vapi.NotAllowedInCurrentState},
		{"a file still PREPARING is not served", v1alpha1.StateActive,
			v1alpha1.DownloadFile{Name: "a", TransferID: "t1", Status: v1alpha1.PreparePreparing}, vapi.NotAllowedInCurrentState},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds := sessionWith(tc.state, tc.file)
			err := Servable(ds, &ds.Status.Files[0])
			var verr *vapi.Error
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Servable = %v, want nil", err)
			case tc.want != "" && (!errors.As(err, &verr) || verr.Type != tc.want):
				t.Fatalf("Servable = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestServedKeepsTheFurthestOffset(t *testing.T) {
	ds := sessionWith(v1alpha1.StateActive, prepared("a", "t1", 100, 40), prepared("b", "t2", 100, 0),
		v1alpha1.DownloadFile{Name: "c", Status: v1alpha1.PrepareError})
	if !Served(ds, map[string]int64{"a": 60, "b": 10, "c": 5, "gone": 7}) {
		t.Fatal("Served changed nothing")
	}
	if Served(ds, map[string]int64{"a": 50, "b": 10}) {
		t.Fatal("offsets behind the furthest changed the session")
	}
	got := []int64{ds.Status.Files[0].BytesTransferred, ds.Status.Files[1].BytesTransferred, ds.Status.Files[2].BytesTransferred}
	if diff := cmp.Diff([]int64{60, 10, 0}, got); diff != "" {
		t.Fatalf("bytesTransferred (-want +got):\n%s", diff)
	}
}
