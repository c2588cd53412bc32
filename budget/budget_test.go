package budget

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolNeverHoldsMoreThanItsCapacity(t *testing.T) {
	p := New(10, 5*time.Second)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			n := int64(1 + i%4)
			release, err := p.Acquire(context.Background(), n)
			if err != nil {
				t.Errorf("acquire %d: %v", n, err)
				return
			}
			now := held.Add(n)
			for {
				old := peak.Load()
				if now <= old || peak.CompareAndSwap(old, now) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			held.Add(-n)
			release()
		})
	}
	wg.Wait()
	if peak.Load() > 10 || p.InUse() != 0 {
		t.Fatalf("peak %d of capacity 10, %d still in use", peak.Load(), p.InUse())
	}
}

func TestPoolRefusesWhenTheQueueWaitRunsOut(t *testing.T) {
	p := New(10, 30*time.Millisecond)
	release, err := p.Acquire(context.Background(), 8)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := p.Acquire(context.Background(), 5); !errors.Is(err, ErrBusy) {
		t.Fatalf("over budget: %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Fatalf("refused after %v, before the 30 ms queue wait", waited)
	}
	// A waiter is admitted as soon as the holder releases.
	go func() { time.Sleep(5 * time.Millisecond); release() }()
	r2, err := p.Acquire(context.Background(), 5)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	r2()
	// Larger than the pool: charged the whole pool, runs alone.
	r3, err := p.Acquire(context.Background(), 100)
	if err != nil || p.InUse() != 10 {
		t.Fatalf("oversized request: %v, in use %d", err, p.InUse())
	}
	r3()
	r3() // a second release is a no-op
	if p.InUse() != 0 {
		t.Fatalf("in use %d after release", p.InUse())
	}
}

func TestPoolWaitersGiveUpWithTheirContext(t *testing.T) {
	p := New(1, time.Minute)
	release, _ := p.Acquire(context.Background(), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	release()
	if p.InUse() != 0 {
		t.Fatalf("a waiter that left holds %d", p.InUse())
	}
	var zero *Pool
	if r, err := zero.Acquire(context.Background(), 1<<40); err != nil {
		t.Fatal(err)
	} else {
		r()
	}
}
