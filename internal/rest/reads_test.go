package rest

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestReadBudgetsArePerCallerAndBounded: a caller past its burst is refused until its budget
// refills, others are served meanwhile, and the budgets of many callers stay within maxReaders.
func TestReadBudgetsArePerCallerAndBounded(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newReadBudgets(ReadLimits{QPS: 1, Burst: 3})
	for i := range 3 {
		if err := b.take("greedy", now); err != nil {
			t.Fatalf("read %d within the burst: %v", i+1, err)
		}
	}
	if err := b.take("greedy", now); !errors.Is(err, errReadBudget) {
		t.Fatalf("read past the burst: %v, want errReadBudget", err)
	}
	if err := b.take("other", now); err != nil {
		t.Fatalf("another caller's read: %v", err)
	}
	if err := b.take("greedy", now.Add(time.Second)); err != nil {
		t.Fatalf("read once the budget refilled: %v", err)
	}
	for i := range 3 * maxReaders {
		_ = b.take("caller-"+strconv.Itoa(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(b.callers); n > maxReaders {
		t.Errorf("%d budgets remembered, want at most %d", n, maxReaders)
	}
}
