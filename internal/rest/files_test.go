package rest

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/vapi"
)

func TestLookupContent(t *testing.T) {
	const (
		api        = "/api/content/library/item/update-session"
		restFiles  = "/rest/com/vmware/content/library/item/updatesession/file"
		apiItem    = "/api/content/library/item/"
		restItem   = "/rest/com/vmware/content/library/item/"
		notMatched = "-"
	)
	cases := []struct {
		name, method, target string
		wantOp               string
		wantID, wantName     string
		wantErr              vapi.ErrorType
	}{
		{"api add", "POST", api + "/s1/file", "file-add", "s1", "", ""},
		{"rest add", "POST", restFiles + "/id:s1?~action=add", "file-add", "s1", "", ""},
		{"api list", "GET", api + "/s1/file", "file-list", "s1", "", ""},
		{"rest list", "GET", restFiles + "?update_session_id=s1", "file-list", "s1", "", ""},
		{"rest list without the session's id", "GET", restFiles, "", "", "", vapi.InvalidArgument},
		{"api get", "GET", api + "/s1/file/disk.vmdk", "file-get", "s1", "disk.vmdk", ""},
		{"rest get", "POST", restFiles + "/id:s1?~action=get", "file-get", "s1", "", ""},
		{"api remove", "DELETE", api + "/s1/file/disk.vmdk", "file-remove", "s1", "disk.vmdk", ""},
		{"rest remove", "POST", restFiles + "/id:s1?~action=remove", "file-remove", "s1", "", ""},
		{"api validate", "POST", api + "/s1/file?action=validate", "file-validate", "s1", "", ""},
		{"rest validate", "POST", restFiles + "/id:s1?~action=validate", "file-validate", "s1", "", ""},
		{"rest probe", "POST", restFiles + "?~action=probe", "file-probe", "", "", ""},
		{"api probe", "POST", api + "/file?action=probe", "file-probe", "", "", ""},
		{"api item files", "GET", apiItem + "item-1/file", "item-file-list", "item-1", "", ""},
		{"api item file", "GET", apiItem + "item-1/file?name=a.ovf", "item-file-get", "item-1", "", ""},
		{"rest item files", "GET", restItem + "file?library_item_id=item-1", "item-file-list", "item-1", "", ""},
		{"rest item file", "POST", restItem + "file/id:item-1?~action=get", "item-file-get", "item-1", "", ""},
		{"api item storage", "GET", apiItem + "item-1/storage", "item-storage-list", "item-1", "", ""},
		{"api item storage of a file", "GET", apiItem + "item-1/storage?file_name=a", "item-storage-get", "item-1", "", ""},
		{"rest item storage", "GET", restItem + "storage?library_item_id=item-1", "item-storage-list", "item-1", "", ""},
		{"rest item storage of a file", "POST", restItem + "storage/id:item-1?~action=get", "item-storage-get", "item-1", "", ""},
		{"wrong method on a file", "PUT", api + "/s1/file/a", "", "", "", vapi.InvalidRequest},
		{"unknown action", "POST", restFiles + "/id:s1?~action=explode", "", "", "", vapi.OperationNotFound},
		{"a file name with a slash is no route", "GET", api + "/s1/file/a/b", notMatched, "", "", ""},
		{"session operations are not file operations", "POST", api + "/s1?action=complete", notMatched, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			op, target, matched, err := lookupContent(formFor(r.URL.Path), r, r.URL.Query())
			if tc.wantOp == notMatched {
				if matched {
					t.Fatalf("matched %+v, %v", target, op)
				}
				return
			}
			if !matched {
				t.Fatal("not matched")
			}
			if tc.wantErr != "" {
				if err == nil || err.Type != tc.wantErr {
					t.Fatalf("got %v (op %v), want %s", err, op, tc.wantErr)
				}
				return
			}
			if err != nil || op.name != tc.wantOp || target.id != tc.wantID || target.name != tc.wantName {
				t.Fatalf("got op %v target %+v err %v, want %s %q %q", op, target, err, tc.wantOp, tc.wantID, tc.wantName)
			}
		})
	}
}

func TestOVFReferences(t *testing.T) {
	const envelope = `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
    <File ovf:href="disk-0.vmdk" ovf:id="file1" ovf:size="100"/>
    <File ovf:href="disk-1.vmdk" ovf:id="file2"/>
    <File ovf:href="http://example.com/remote.iso" ovf:id="file3"/>
  </References>
  <DiskSection><Disk ovf:fileRef="file1"/></DiskSection>
  <VirtualSystem><File ovf:href="not-a-reference.txt"/></VirtualSystem>
</Envelope>`
	cases := []struct {
		name    string
		doc     string
		want    []string
		wantErr bool
	}{
		{"the References' files, not remote ones or others", envelope, []string{"disk-0.vmdk", "disk-1.vmdk"}, false},
		{"no References", `<Envelope><VirtualSystem/></Envelope>`, nil, false},
		{"reading stops at the References' end", `<Envelope><References><File href="a"/></References><broken`, []string{"a"}, false},
		{"not XML", "MZ\x00\x01 binary", nil, true},
		{"XML that is not an Envelope", `<html><body/></html>`, nil, true},
		{"cut short inside References", `<Envelope><References><File href="a"/>`, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ovfReferences(strings.NewReader(tc.doc))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("references (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionFileOf(t *testing.T) {
	size := func(n int64) *int64 { return &n }
	sha1Hex := strings.Repeat("A", 40)
	cases := []struct {
		name    string
		in      addSpec
		wantErr bool
		check   func(t *testing.T, f v1alpha1.SessionFile)
	}{
		{"a PUSH file waits for its bytes", addSpec{Name: "disk.vmdk", SourceType: "PUSH", Size: size(10)}, false,
			func(t *testing.T, f v1alpha1.SessionFile) {
				if f.Status != v1alpha1.TransferWaiting || *f.Size != 10 || f.SourceType != v1alpha1.SourcePush {
					t.Errorf("file %+v", f)
				}
			}},
		{"a checksum without algorithm is SHA1, lowercased", addSpec{Name: "a", SourceType: "PUSH",
			ChecksumInfo: &checksumInfo{Checksum: sha1Hex}}, false,
			func(t *testing.T, f v1alpha1.SessionFile) {
				if f.Checksum.Algorithm != v1alpha1.ChecksumSHA1 || f.Checksum.Checksum != strings.ToLower(sha1Hex) {
					t.Errorf("checksum %+v", f.Checksum)
				}
			}},
		{"a PULL file keeps its source", addSpec{Name: "a", SourceType: "PULL",
			SourceEndpoint: &transferEndpoint{URI: "https://example.com/a", SSLCertificateThumbprint: "AA:BB"}}, false,
			func(t *testing.T, f v1alpha1.SessionFile) {
				if f.SourceEndpoint.URI != "https://example.com/a" || f.SourceEndpoint.SSLCertificateThumbprint != "AA:BB" {
					t.Errorf("source %+v", f.SourceEndpoint)
				}
			}},
		{"../ is refused", addSpec{Name: "../etc", SourceType: "PUSH"}, true, nil},
		{"a backslash is refused", addSpec{Name: `a\b`, SourceType: "PUSH"}, true, nil},
		{"a control character is refused", addSpec{Name: "a\x01", SourceType: "PUSH"}, true, nil},
		{"256 bytes are refused", addSpec{Name: strings.Repeat("a", 256), SourceType: "PUSH"}, true, nil},
		{"an empty name is refused", addSpec{SourceType: "PUSH"}, true, nil},
		{"an unknown source type is refused", addSpec{Name: "a", SourceType: "NONE"}, true, nil},
		{"a size past the limit is refused", addSpec{Name: "a", SourceType: "PUSH", Size: size(1 << 41)}, true, nil},
		{"a negative size is refused", addSpec{Name: "a", SourceType: "PUSH", Size: size(-1)}, true, nil},
		{"an unknown algorithm is refused", addSpec{Name: "a", SourceType: "PUSH",
			ChecksumInfo: &checksumInfo{Algorithm: "CRC32", Checksum: "00"}}, true, nil},
		{"a digest of the wrong length is refused", addSpec{Name: "a", SourceType: "PUSH",
			ChecksumInfo: &checksumInfo{Algorithm: "SHA256", Checksum: sha1Hex}}, true, nil},
		{"PULL without a source is refused", addSpec{Name: "a", SourceType: "PULL"}, true, nil},
		{"PULL from file:// is refused", addSpec{Name: "a", SourceType: "PULL",
			SourceEndpoint: &transferEndpoint{URI: "file:///etc/passwd"}}, true, nil},
		{"PUSH with a source is refused", addSpec{Name: "a", SourceType: "PUSH",
			SourceEndpoint: &transferEndpoint{URI: "https://example.com/a"}}, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := sessionFileOf(tc.in, DefaultMaxFileBytes)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if verr := asVAPI(err); verr.Type != vapi.InvalidArgument {
					t.Fatalf("refused as %s, want INVALID_ARGUMENT", verr.Type)
				}
				return
			}
			tc.check(t, f)
		})
	}
}
