package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3ServerEnv names the environment variable that holds the path of the S3-compatible server
// binary (versitygw) the tests run; `make test` sets it from hack/s3server.sh.
const S3ServerEnv = "S3SERVER"

// S3Server is a running S3-compatible server with one empty bucket.
type S3Server struct {
	// Endpoint is its base URL, http://127.0.0.1:port.
	Endpoint string
	Bucket   string
	Region   string
	// AccessKey and SecretKey are its root credentials.
	AccessKey, SecretKey string
	// Root is the directory its posix backend keeps the buckets in.
	Root string
}

// URL is the --content-store URL of the server's bucket.
func (s S3Server) URL() string {
	q := url.Values{"endpoint": {s.Endpoint}, "region": {s.Region}, "use_path_style": {"true"}}
	return "s3://" + s.Bucket + "?" + q.Encode()
}

// Env is the environment that gives a process (the manager) the server's credentials.
func (s S3Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey, "AWS_REGION=" + s.Region}
}

// SetEnv sets the server's credentials in the test's environment, for content.Open in this
// process; the test cannot be parallel then.
func (s S3Server) SetEnv(t testing.TB) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_REGION", s.Region)
	// Keep the SDK from reading the machine's own profile and its settings.
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// Client returns an S3 client of the server, for what a test checks behind the store's back.
func (s S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// StartS3Server starts the S3-compatible server ($S3SERVER, versitygw with its posix backend
// in a temporary directory) on a free loopback port, creates a bucket, and stops the server
// when the test ends. The test fails at once, saying how to get it, if the binary is missing.
func StartS3Server(t testing.TB) S3Server {
	t.Helper()
	bin := os.Getenv(S3ServerEnv)
	if bin == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, or set %s=$(hack/s3server.sh)", S3ServerEnv, S3ServerEnv)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the S3 server %s=%s: %v (hack/s3server.sh builds it)", S3ServerEnv, bin, err)
	}
	srv := S3Server{Bucket: "content", Region: "us-east-1", AccessKey: "test-access-key", SecretKey: "test-secret-key-" + t.Name(),
		Root: t.TempDir()}
	var err error
	for range 3 { // another process may take the free port before the server does
		if err = srv.start(t, bin); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(srv.Bucket)}); err != nil {
		t.Fatalf("creating the bucket %s: %v", srv.Bucket, err)
	}
	return srv
}

// start runs the server on a free port and waits until it answers.
func (s *S3Server) start(t testing.TB, bin string) error {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	s.Endpoint = "http://" + addr
	cmd := exec.Command(bin, "--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
		"--quiet", "posix", s.Root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID=", "ROOT_SECRET_ACCESS_KEY=")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the S3 server %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	if err := waitAnswers(s.Endpoint, exited, &waitErr); err != nil {
		stop()
		return fmt.Errorf("the S3 server on %s: %w; its output:\n%s", addr, err, out.String())
	}
	t.Cleanup(stop)
	return nil
}

// waitAnswers waits until endpoint answers HTTP (any status: an unsigned request is refused),
// or the server exits.
func waitAnswers(endpoint string, exited <-chan struct{}, waitErr *error) error {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("exited before it answered: %v", *waitErr)
		default:
		}
		resp, err := client.Get(endpoint + "/")
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("no answer within 30s")
}

// freeLoopbackAddr returns a loopback address with a port free now.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// syncBuffer is a bytes.Buffer a process writes while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
