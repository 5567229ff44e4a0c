package rest

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

type ctxKey struct{}

func TestCallContext(t *testing.T) {
	newCtx := func(timeout time.Duration) (*callContext, context.CancelFunc, context.CancelFunc) {
		parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "value"))
		r := httptest.NewRequest("POST", "/", nil).WithContext(parent)
		ctx, cancel := newCallContext(r, timeout)
		return ctx, cancel, cancelParent
	}
	ended := func(t *testing.T, ctx context.Context, want error) {
		t.Helper()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed")
		}
		if err := ctx.Err(); !errors.Is(err, want) {
			t.Fatalf("Err = %v, want %v", err, want)
		}
	}

	t.Run("the deadline ends it once something waits", func(t *testing.T) {
		ctx, cancel, _ := newCtx(20 * time.Millisecond)
		defer cancel()
		if ctx.Err() != nil {
			t.Fatalf("Err = %v before the deadline", ctx.Err())
		}
		ended(t, ctx, context.DeadlineExceeded)
	})
	t.Run("the deadline ends it though nothing waited", func(t *testing.T) {
		ctx, cancel, _ := newCtx(time.Millisecond)
		defer cancel()
		time.Sleep(5 * time.Millisecond)
		if ctx.timer != nil {
			t.Fatal("timer armed without a wait")
		}
		ended(t, ctx, context.DeadlineExceeded)
	})
	t.Run("a context derived from it ends at its deadline", func(t *testing.T) {
		ctx, cancel, _ := newCtx(20 * time.Millisecond)
		defer cancel()
		child, cancelChild := context.WithCancel(ctx)
		defer cancelChild()
		ended(t, child, context.DeadlineExceeded)
	})
	t.Run("answering the call cancels it, armed or not", func(t *testing.T) {
		for _, armed := range []bool{false, true} {
			ctx, cancel, _ := newCtx(time.Hour)
			if armed {
				ctx.Done()
			}
			cancel()
			ended(t, ctx, context.Canceled)
		}
	})
	t.Run("the client hanging up does not end it; its values pass", func(t *testing.T) {
		ctx, cancel, cancelParent := newCtx(time.Hour)
		defer cancel()
		cancelParent()
		select {
		case <-ctx.Done():
			t.Fatal("ended when the request's context was canceled")
		case <-time.After(20 * time.Millisecond):
		}
		if d, ok := ctx.Deadline(); !ok || time.Until(d) < 59*time.Minute {
			t.Fatalf("Deadline = %v, %v", d, ok)
		}
		if v := ctx.Value(ctxKey{}); v != "value" {
			t.Fatalf("Value = %v", v)
		}
	})
}
