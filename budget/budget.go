// Package budget bounds the resources that concurrent requests may hold at
// once: a Pool is a weighted semaphore (bytes of audio in memory, or slots
// of CPU-bound work) with a brief, first-come-first-served queue. A caller
// that cannot be admitted within the pool's wait is refused with ErrBusy,
// which the service turns into 503 with Retry-After: under a burst the
// server sheds load instead of growing without bound.
package budget

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBusy is returned when a request could not be admitted within the
// pool's wait.
var ErrBusy = errors.New("budget: busy")

// Pool admits holders of up to Capacity units in total. The zero value
// admits everything (no bound). Build one with New.
type Pool struct {
	capacity int64
	wait     time.Duration

	mu      sync.Mutex
	used    int64
	waiters []*waiter // FIFO
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when admitted
}

// New returns a pool of capacity units whose callers queue at most wait
// for their turn (0: they never queue).
func New(capacity int64, wait time.Duration) *Pool {
	return &Pool{capacity: capacity, wait: wait}
}

// Capacity returns the pool's size (0: unbounded).
func (p *Pool) Capacity() int64 {
	if p == nil {
		return 0
	}
	return p.capacity
}

// InUse returns the units held now.
func (p *Pool) InUse() int64 {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// Acquire takes n units, waiting behind earlier callers for at most the
// pool's wait, and returns the function that gives them back (call it
// exactly once). A request larger than the whole pool is charged the whole
// pool, so that it runs alone rather than never. Returns ErrBusy when the
// wait runs out, or ctx's error when ctx ends first.
func (p *Pool) Acquire(ctx context.Context, n int64) (release func(), err error) {
	if p == nil || p.capacity <= 0 {
		return func() {}, nil
	}
	n = min(max(n, 0), p.capacity)
	p.mu.Lock()
	if len(p.waiters) == 0 && p.used+n <= p.capacity {
		p.used += n
		p.mu.Unlock()
		return p.releaser(n), nil
	}
	if p.wait <= 0 {
		p.mu.Unlock()
		return nil, ErrBusy
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()

	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case <-w.ready:
		return p.releaser(n), nil
	case <-t.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-w.ready: // admitted while giving up: hand the units back
		p.used -= n
		p.admit()
		return nil, err
	default:
	}
	for i, x := range p.waiters {
		if x == w {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			break
		}
	}
	p.admit() // the head may fit now that this waiter left
	return nil, err
}

func (p *Pool) releaser(n int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.used -= n
			p.admit()
		})
	}
}

// admit wakes queued waiters in order while they fit. p.mu is held.
func (p *Pool) admit() {
	for len(p.waiters) > 0 && p.used+p.waiters[0].n <= p.capacity {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.used += w.n
		close(w.ready)
	}
}
