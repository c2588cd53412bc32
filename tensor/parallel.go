package tensor

import (
	"sync"
	"sync/atomic"
)

// ParallelFor calls f(worker, i) for every i in [0, n) on up to workers
// goroutines (the caller's included) and returns when all calls have. worker
// is in [0, workers) and no two concurrent calls share it, so f can index
// per-worker scratch buffers with it. Tasks are handed out one at a time, so
// uneven tasks and a busy machine still balance.
func ParallelFor(n, workers int, f func(worker, i int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(0, i)
		}
		return
	}
	var next atomic.Int64
	run := func(worker int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			f(worker, i)
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			run(w)
		}(w)
	}
	run(0)
	wg.Wait()
}
