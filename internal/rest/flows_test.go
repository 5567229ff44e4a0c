package rest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/internal/session"
	"github.com/contentlib/update-session-operator/internal/store"
)

// flowServer is a Server of download flows over a fake API server holding one ACTIVE
// download session with a PREPARED file "a.bin", on a fake clock; writes counts its status
// writes.
type flowServer struct {
	s      *Server
	c      client.Client
	clk    *clocktesting.FakeClock
	writes *atomic.Int32
	key    client.ObjectKey
}

func newFlowServer(t *testing.T) flowServer {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	created := metav1.NewMicroTime(now.Add(-time.Minute))
	ds := &v1alpha1.DownloadSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "dl", UID: "u1"},
		Spec:       v1alpha1.DownloadSessionSpec{LibraryItemID: "item"},
		Status: v1alpha1.DownloadSessionStatus{
			Lifecycle: v1alpha1.Lifecycle{ID: "u1", State: v1alpha1.StateActive, LastActivity: &created},
			Files:     []v1alpha1.DownloadFile{{Name: "a.bin", Status: v1alpha1.PreparePrepared, Size: 1000, TransferID: "t1"}},
		},
	}
	writes := &atomic.Int32{}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ds).WithStatusSubresource(ds).
		WithInterceptorFuncs(interceptor.Funcs{SubResourceUpdate: func(ctx context.Context, c client.Client, sub string,
			obj client.Object, opts ...client.SubResourceUpdateOption) error {
			writes.Add(1)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		}}).Build()
	clk := clocktesting.NewFakeClock(now)
	s := &Server{Downloads: store.NewDownloads(c, c, clk), Clock: clk, Log: logr.Discard(),
		Policy: session.Policy{DefaultTimeout: time.Hour}, Transfers: Transfers{ProgressInterval: 5 * time.Second}}
	return flowServer{s: s, c: c, clk: clk, writes: writes, key: client.ObjectKeyFromObject(ds)}
}

// session reads the session as the API server has it.
func (fs flowServer) session(t *testing.T) *v1alpha1.DownloadSession {
	t.Helper()
	var ds v1alpha1.DownloadSession
	if err := fs.c.Get(context.Background(), fs.key, &ds); err != nil {
		t.Fatal(err)
	}
	return &ds
}

// tick waits until the flow's reports wait on the clock, moves it one progress interval, and
// waits until want status writes happened.
func (fs flowServer) tick(t *testing.T, want int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !fs.clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the flow's reports never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
	fs.clk.Step(5 * time.Second)
	for fs.writes.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d status writes, want %d", fs.writes.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFlowWritesOnceAnIntervalAndEndsWhenIdle(t *testing.T) {
	fs := newFlowServer(t)
	flows := newFlows()
	defer flows.stop()
	ctx := context.Background()
	join := func() (*flow, func()) {
		t.Helper()
		f, leave, err := flows.join(ctx, fs.s, fs.session(t), func(error) {})
		if err != nil {
			t.Fatal(err)
		}
		return f, leave
	}

	f, leave1 := join()
	if got := fs.writes.Load(); got != 1 {
		t.Fatalf("the first request of a session: %d writes, want 1 (its activity, at once)", got)
	}
	if la := fs.session(t).Status.LastActivity; !la.Time.Equal(fs.clk.Now()) {
		t.Fatalf("lastActivity %v after the first request, want now", la)
	}
	for range 10 {
		g, leave := join()
		if g != f {
			t.Fatal("a second request of the session began a flow of its own")
		}
		leave()
	}
	f.served("a.bin", 600, 600)
	f.served("a.bin", 400, 400) // a ranged reader behind the furthest
	if got := fs.writes.Load(); got != 1 {
		t.Fatalf("ten more requests and 1000 bytes within the interval: %d writes, want still 1", got)
	}

	fs.tick(t, 2)
	got := fs.session(t)
	if got.Status.Files[0].BytesTransferred != 600 || !got.Status.LastActivity.Time.Equal(fs.clk.Now()) {
		t.Fatalf("after the interval's report: %+v, want bytesTransferred 600 and lastActivity now", got.Status)
	}
	leave1()
	fs.tick(t, 2) // nothing moved and nobody joined, but the report reads the flow idle
	waitFor(t, func() bool {
		flows.mu.Lock()
		defer flows.mu.Unlock()
		return len(flows.bySession) == 0
	}, "the idle flow to end")
	if got := fs.writes.Load(); got != 2 {
		t.Fatalf("an idle interval wrote: %d writes, want 2", got)
	}
	if g, leave := join(); g == f {
		t.Fatal("a request after the flow ended joined it")
	} else {
		leave()
	}
}

func TestFlowStopsItsRequestsWhenTheSessionEnds(t *testing.T) {
	fs := newFlowServer(t)
	flows := newFlows()
	defer flows.stop()
	ctx, stop := context.WithCancelCause(context.Background())
	f, leave, err := flows.join(context.Background(), fs.s, fs.session(t), stop)
	if err != nil {
		t.Fatal(err)
	}
	defer leave()
	canceled := fs.session(t)
	canceled.Status.State = v1alpha1.StateCanceled
	if err := fs.c.Status().Update(context.Background(), canceled); err != nil {
		t.Fatal(err)
	}
	f.served("a.bin", 10, 10)
	fs.tick(t, 2)
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, errDownloadLost) {
		t.Fatalf("a request of a canceled session stopped with %v, want errDownloadLost", cause)
	}
	if _, _, err := flows.join(context.Background(), fs.s, fs.session(t), func(error) {}); !errors.Is(err, errDownloadLost) {
		t.Fatalf("a request once the session ended: %v, want errDownloadLost", err)
	}
}

// waitFor waits up to ten seconds for cond, saying what it waited for if it never holds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
