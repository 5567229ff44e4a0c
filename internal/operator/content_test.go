package operator

import "testing"

func TestStorageURIShowsNoSecrets(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"a directory as it is", "file:///var/lib/content", "file:///var/lib/content"},
		{"an S3 bucket without its parameters", "s3://bucket?endpoint=http://minio:9000&region=us-east-1", "s3://bucket"},
		{"credentials in the URL are dropped", "s3://key:secret@bucket/prefix?x=1", "s3://bucket/prefix"},
		{"an unparsable URL shows nothing", "s3://bucket%zz", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := storageURI(tc.in); got != tc.want {
				t.Fatalf("storageURI(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
