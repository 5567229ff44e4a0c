package transfer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestCapability(t *testing.T) {
	key := []byte(strings.Repeat("k", keyBytes))
	good := Capability(key, "uid-1", "disk.vmdk", "t1")
	cases := []struct {
		name          string
		key           []byte
		session       types.UID
		file, id, cap string
		want          bool
	}{
		{"the capability of the file is valid", key, "uid-1", "disk.vmdk", "t1", good, true},
		{"another file of the session is refused", key, "uid-1", "disk.ovf", "t1", good, false},
		{"the same file of another session is refused", key, "uid-2", "disk.vmdk", "t1", good, false},
		{"another add of the file is refused", key, "uid-1", "disk.vmdk", "t2", good, false},
		{"another key's capability is refused", []byte(strings.Repeat("x", keyBytes)), "uid-1", "disk.vmdk", "t1", good, false},
		{"a name and id shifted across the separator are refused", key, "uid-1", "disk.vmdk\x00t", "1", good, false},
		{"a truncated capability is refused", key, "uid-1", "disk.vmdk", "t1", good[:len(good)-2], false},
		{"a capability that is not base64url is refused", key, "uid-1", "disk.vmdk", "t1", good[:len(good)-1] + "=", false},
		{"an empty capability is refused", key, "uid-1", "disk.vmdk", "t1", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Valid(tc.key, tc.session, tc.file, tc.id, tc.cap); got != tc.want {
				t.Fatalf("Valid = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewIDIsRandomAndFitsAPath(t *testing.T) {
	a, b := NewID(), NewID()
	if a == b || len(a) != 22 || strings.ContainsAny(a, "/+=") {
		t.Fatalf("NewID = %q, %q: want two different 22-character base64url ids", a, b)
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry(2)
	end1, err := r.Begin("s1", "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Begin("s1", "a"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second transfer into the same file: %v, want ErrBusy", err)
	}
	end2, err := r.Begin("s2", "a")
	if err != nil {
		t.Fatalf("the same name in another session: %v", err)
	}
	if _, err := r.Begin("s1", "b"); !errors.Is(err, ErrFull) {
		t.Fatalf("a third transfer past the cap of 2: %v, want ErrFull", err)
	}
	end1()
	end1() // a second end is harmless and frees nothing else
	if _, err := r.Begin("s1", "a"); err != nil {
		t.Fatalf("the file again once its transfer ended: %v", err)
	}
	if _, err := r.Begin("s1", "c"); !errors.Is(err, ErrFull) {
		t.Fatalf("past the cap after a double end: %v, want ErrFull", err)
	}
	end2()
	if got := r.Running(); got != 1 {
		t.Fatalf("Running = %d, want 1", got)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	if _, err := r.BeginStoppable("s3", "a", cancel); err != nil {
		t.Fatal(err)
	}
	stopping := errors.New("shutting down")
	r.StopAll(stopping)
	if !errors.Is(context.Cause(ctx), stopping) {
		t.Fatalf("a transfer after StopAll: cause %v", context.Cause(ctx))
	}
	if _, err := r.Begin("s4", "a"); !errors.Is(err, ErrStopping) {
		t.Fatalf("a transfer begun after StopAll: %v, want ErrStopping", err)
	}
}

func TestRegistrySharedReaders(t *testing.T) {
	r := NewRegistry(3)
	ends := make([]func(), 0, 3)
	for i := range 3 {
		end, err := r.BeginShared("s1", "disk.vmdk", nil)
		if err != nil {
			t.Fatalf("reader %d of one file: %v", i+1, err)
		}
		ends = append(ends, end)
	}
	if _, err := r.BeginShared("s1", "disk.vmdk", nil); !errors.Is(err, ErrFull) {
		t.Fatalf("a fourth reader past the cap of 3: %v, want ErrFull", err)
	}
	ends[0]()
	ends[0]() // a second end frees no other reader's slot
	if got := r.Running(); got != 2 {
		t.Fatalf("Running = %d, want 2", got)
	}
	if _, err := r.Begin("s1", "disk.vmdk"); err != nil {
		t.Fatalf("an exclusive transfer beside readers of another kind of session's file: %v", err)
	}
	if _, err := r.Begin("s1", "other"); !errors.Is(err, ErrFull) {
		t.Fatalf("past the cap: %v, want ErrFull", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	ends[1]()
	if _, err := r.BeginShared("s2", "a", cancel); err != nil {
		t.Fatal(err)
	}
	r.StopAll(ErrStopping)
	if !errors.Is(context.Cause(ctx), ErrStopping) {
		t.Fatalf("a reader after StopAll: cause %v", context.Cause(ctx))
	}
}

func TestProgressWritesOnceAnIntervalAndStopsOnError(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	reports := make(chan Report)
	lost := errors.New("claim lost")
	p := Progress{Clock: clk, Interval: 5 * time.Second, Write: func(_ context.Context, r Report) error {
		reports <- r
		if r.Bytes == 30 {
			return lost
		}
		return nil
	}}
	var n int64
	ctx, abort := context.WithCancelCause(context.Background())
	stop := p.Start(ctx, func() int64 { return n }, abort)
	defer stop()
	for _, step := range []struct {
		bytes int64
		want  Report
	}{
		{10, Report{Bytes: 10, Moved: true}},
		{10, Report{Bytes: 10, Moved: false}}, // stalled: a heartbeat, not activity
		{30, Report{Bytes: 30, Moved: true}},
	} {
		waitTicker(t, clk)
		n = step.bytes
		clk.Step(5 * time.Second)
		if got := <-reports; got != step.want {
			t.Fatalf("report = %+v, want %+v", got, step.want)
		}
	}
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, lost) {
		t.Fatalf("aborted with %v, want the Write error", cause)
	}
}

// waitTicker waits until the progress loop waits on its ticker.
func waitTicker(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the progress loop never waited on its ticker")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestKeysAreSharedThroughTheSecret(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().Build()
	first, err := NewKeys(c, c, "ops").Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := NewKeys(c, c, "ops").Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != keyBytes || string(first) != string(second) {
		t.Fatalf("two replicas' keys differ or are short: %x, %x", first, second)
	}
	var secret corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ops", Name: KeySecretName}, &secret); err != nil {
		t.Fatal(err)
	}
	if secret.Immutable == nil || !*secret.Immutable {
		t.Fatal("the key's Secret is not immutable")
	}
}

func TestKeysRefuseAShortKey(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: KeySecretName},
		Data:       map[string][]byte{keyField: []byte("short")},
	}).Build()
	if _, err := NewKeys(c, c, "ops").Key(context.Background()); err == nil {
		t.Fatal("a Secret with a 5-byte key was accepted")
	}
}
