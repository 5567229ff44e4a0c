package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Multipart uploads: a part is buffered whole before it is sent, so a write holds at most
// uploadConcurrency+2 parts (the parts in flight, the one filling, the first one read to
// choose between one PUT and a multipart upload).
const (
	// minPartSize is the part size of a write whose size is known to fit in maxParts of it.
	minPartSize = 8 << 20
	// maxUnknownPartSize bounds the part size of a write of unknown size, and so its memory;
	// such a write can hold at most maxParts of it.
	maxUnknownPartSize = 16 << 20
	// maxParts is S3's limit of parts in one upload.
	maxParts = 10000
	// uploadConcurrency is how many parts of one write of known size are sent at once; a
	// write of unknown size, with larger parts, sends one while it fills the next.
	uploadConcurrency = 2
	// abortTimeout bounds aborting a multipart upload after its write failed or was canceled.
	abortTimeout = 30 * time.Second
)

// s3Bucket is a Bucket in S3-compatible object storage, through the AWS SDK. Large writes go
// as multipart uploads that S3 assembles only on completion, so a reader sees the old object
// or the new.
type s3Bucket struct {
	client *s3.Client
	name   string
}

// OpenS3 returns the Bucket an s3:// URL names: s3://bucket?endpoint=URL&region=R&use_path_style=true.
// Credentials come from the SDK's usual sources (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// a profile, a web identity). It checks that the bucket is there, so a wrong setting fails at
// start rather than at the first upload.
func OpenS3(ctx context.Context, u *url.URL) (Bucket, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("content: %q names no bucket", u.Redacted())
	}
	q := u.Query()
	pathStyle, _ := strconv.ParseBool(q.Get("use_path_style"))
	var opts []func(*config.LoadOptions) error
	if region := q.Get("region"); region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("content: the S3 configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // what S3-compatible servers answer to when none is set
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint := q.Get("endpoint"); endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
		// Put computes the checksum the caller asked for; a second one per request costs CPU
		// and is not understood by every S3-compatible server.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	b := &s3Bucket{client: client, name: u.Host}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.name)}); err != nil {
		return nil, fmt.Errorf("content: the bucket %s: %w", b.name, s3Error(err))
	}
	return b, nil
}

// s3Error marks the errors the package names: an absent object, a condition that failed, a
// bucket that is full.
func s3Error(err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchKey" || code == "NotFound" || code == "" && status == http.StatusNotFound:
		// Only an absent key: a 404 for the bucket or a multipart upload is another failure.
		return fmt.Errorf("%w: %w", ErrNotExist, err)
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %w", ErrExists, err)
	case isS3NoSpace(err):
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// isS3NoSpace reports whether an S3 error says the store is full: a quota, or a disk of the
// server (507 Insufficient Storage, as MinIO and others answer).
func isS3NoSpace(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "QuotaExceeded", "XMinioStorageFull", "InsufficientStorage", "StorageFull":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusInsufficientStorage
}

func (b *s3Bucket) NewWriter(ctx context.Context, key string) (Writer, error) {
	return b.newSizedWriter(ctx, key, -1, false)
}

// partSize is the part size of a write of size bytes (exact), or of at most size bytes (-1:
// no bound): big enough for the whole to fit in maxParts, no bigger than it must be, since
// memory holds a few parts. Without an exact size it is at most maxUnknownPartSize.
func partSize(size int64, exact bool) int64 {
	if size < 0 {
		return maxUnknownPartSize
	}
	part := max(minPartSize, (size+maxParts-1)/maxParts)
	if !exact {
		part = min(part, maxUnknownPartSize)
	}
	return part
}

// newSizedWriter opens a writer of size bytes (exact) or at most size bytes (-1: no bound),
// with parts sized for it.
func (b *s3Bucket) newSizedWriter(ctx context.Context, key string, size int64, exact bool) (Writer, error) {
	part, concurrency := partSize(size, exact), uploadConcurrency
	if !exact {
		concurrency = 1
	}
	tm := transfermanager.New(b.client, func(o *transfermanager.Options) {
		o.PartSizeBytes = part
		o.MultipartUploadThreshold = part
		o.Concurrency = concurrency
		o.FailTimeout = abortTimeout
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	w := &s3Writer{ctx: ctx, cancel: cancel, pw: pw, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		_, w.err = tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(b.name), Key: aws.String(key), Body: pr,
		})
		// A failed upload reads no more: make the writer's next Write fail rather than block.
		_ = pr.CloseWithError(cmpErr(w.err, io.ErrClosedPipe))
	}()
	return w, nil
}

// cmpErr returns err, or def when err is nil.
func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// s3Writer feeds an upload through a pipe; the upload completes when the pipe is closed, and
// is aborted (the multipart upload with it) when its context is canceled.
type s3Writer struct {
	ctx    context.Context
	cancel context.CancelFunc
	pw     *io.PipeWriter
	done   chan struct{}
	err    error
	closed bool
}

func (w *s3Writer) Write(p []byte) (int, error) {
	n, err := w.pw.Write(p)
	return n, s3Error(err)
}

func (w *s3Writer) Close() error {
	if w.closed {
		return errors.New("content: writer already closed")
	}
	if err := w.ctx.Err(); err != nil {
		_ = w.Abort()
		return err
	}
	w.closed = true
	_ = w.pw.Close()
	<-w.done
	w.cancel()
	return s3Error(w.err)
}

func (w *s3Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.cancel()
	_ = w.pw.CloseWithError(context.Canceled)
	<-w.done
	return nil
}

// WriteIfAbsent puts data with If-None-Match: *, which S3 and the S3-compatible servers that
// support conditional writes refuse (412) when the key exists.
func (b *s3Bucket) WriteIfAbsent(ctx context.Context, key string, data []byte) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b.name), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), IfNoneMatch: aws.String("*"),
	})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict" {
		// A concurrent conditional write of the key is under way; one of the two wins.
		return fmt.Errorf("%w: %w", ErrExists, err)
	}
	return s3Error(err)
}

// NewRangeReader reads a range with one GET, so that a ranged download costs one request. A
// range that begins past the object's end is refused (416) where a file reads empty: it reads
// empty here too. An empty range is no valid Range header: it only checks that the key is there.
func (b *s3Bucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("content: negative offset %d", offset)
	}
	if length == 0 {
		if _, err := b.Stat(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)}
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := b.client.GetObject(ctx, in)
	if isS3InvalidRange(err) {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	if err != nil {
		return nil, s3Error(err)
	}
	return out.Body, nil
}

// isS3InvalidRange reports whether an S3 error refuses a range that begins past the object's
// end (416 InvalidRange). An absent key is NoSuchKey, whatever the range.
func isS3InvalidRange(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusRequestedRangeNotSatisfiable
}

func (b *s3Bucket) Stat(ctx context.Context, key string) (Info, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)})
	if err != nil {
		return Info{}, s3Error(err)
	}
	return Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

func (b *s3Bucket) List(ctx context.Context, prefix string) iter.Seq2[Info, error] {
	return func(yield func(Info, error) bool) {
		pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
			Bucket: aws.String(b.name), Prefix: aws.String(prefix),
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(Info{}, s3Error(err))
				return
			}
			for _, o := range page.Contents {
				info := Info{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

func (b *s3Bucket) Delete(ctx context.Context, key string) error {
	_, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)})
	if err = s3Error(err); errors.Is(err, ErrNotExist) {
		return nil
	}
	return err
}

// sweep aborts the multipart uploads begun before cutoff that were never completed nor
// aborted (a crash mid-write): their parts take space but are no object. An upload of a live
// key may be a long transfer still under way, and is left alone.
func (b *s3Bucket) sweep(ctx context.Context, cutoff time.Time, live func(key string) bool, stats *CollectStats) error {
	pages := s3.NewListMultipartUploadsPaginator(b.client, &s3.ListMultipartUploadsInput{Bucket: aws.String(b.name)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return s3Error(err)
		}
		for _, u := range page.Uploads {
			if !aws.ToTime(u.Initiated).Before(cutoff) || live(aws.ToString(u.Key)) {
				continue
			}
			if _, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(b.name), Key: u.Key, UploadId: u.UploadId,
			}); err != nil && !errors.Is(s3Error(err), ErrNotExist) {
				return s3Error(err)
			}
			stats.Deleted++
		}
	}
	return nil
}

func (b *s3Bucket) Close() error { return nil }
