package content_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/testenv"
)

// newS3Bucket returns a bucket on an S3 server of its own, started for the test.
func newS3Bucket(t *testing.T) content.Bucket {
	srv := testenv.StartS3Server(t)
	srv.SetEnv(t)
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	b, err := content.OpenS3(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestS3Bucket(t *testing.T) { content.TestBucketConformance(t, newS3Bucket) }

func TestS3Store(t *testing.T) { content.TestStoreConformance(t, newS3Bucket) }

func TestOpenS3(t *testing.T) {
	srv := testenv.StartS3Server(t)
	srv.SetEnv(t)
	ctx := context.Background()
	s, err := content.Open(ctx, srv.URL())
	if err != nil {
		t.Fatalf("Open(%s): %v", srv.URL(), err)
	}
	defer func() { _ = s.Close() }()
	if _, err := s.Current(ctx, "ns", "item"); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"endpoint": {srv.Endpoint}, "use_path_style": {"true"}}
	for _, bad := range []string{"s3://absent?" + q.Encode(), "s3://?" + q.Encode()} {
		if _, err := content.Open(ctx, bad); err == nil {
			t.Errorf("Open(%s) succeeded, want an error", bad)
		}
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	if _, err := content.Open(ctx, srv.URL()); err == nil {
		t.Error("Open with a wrong secret succeeded, want an error")
	}
}

// A write canceled mid multipart upload leaves no object, and no upload that takes space
// once Collect has run past its grace.
func TestS3AbortedMultipartUpload(t *testing.T) {
	srv := testenv.StartS3Server(t)
	srv.SetEnv(t)
	ctx := context.Background()
	s, err := content.Open(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := s.Bucket().NewWriter(wctx, "files/ns/item/s/big")
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for range 80 { // over two parts of an upload of unknown size
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := w.Close(); err == nil {
		t.Fatal("Close after cancel succeeded")
	}
	if _, err := s.Stat(ctx, "files/ns/item/s/big"); !errors.Is(err, content.ErrNotExist) {
		t.Fatalf("Stat = %v, want ErrNotExist", err)
	}
	if _, err := s.Collect(ctx, content.Keep{}, -1); err != nil {
		t.Fatal(err)
	}
	uploads, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(srv.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(uploads.Uploads); n != 0 {
		t.Fatalf("%d multipart uploads left after Collect, want none: %v", n, fmt.Sprint(uploads.Uploads))
	}
}
