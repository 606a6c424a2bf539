package cpu

import (
	"sync"
	"sync/atomic"
)

// A Task is work over an index range, done in chunks by a Pool. Do gets
// the index of the worker running it, so a task can keep per-worker
// scratch space, and a chunk [lo, hi).
type Task interface {
	Do(worker, lo, hi int)
}

// A Pool is a fixed set of goroutines that stay alive between tasks, so
// that running a task costs a wake-up, not a goroutine start. The caller
// of Run works too, as worker 0. A Pool runs one task at a time; Run must
// not be called concurrently.
type Pool struct {
	workers int
	wake    []chan struct{}
	done    sync.WaitGroup

	task  Task
	n     int
	grain int
	next  atomic.Int64
}

// NewPool starts a pool of the given number of workers (at least 1).
func NewPool(workers int) *Pool {
	workers = max(workers, 1)
	p := &Pool{workers: workers, wake: make([]chan struct{}, workers)}
	for w := 1; w < workers; w++ {
		p.wake[w] = make(chan struct{}, 1)
		go p.loop(w)
	}
	return p
}

// Workers is the number of workers, the caller of Run included.
func (p *Pool) Workers() int { return p.workers }

func (p *Pool) loop(w int) {
	for range p.wake[w] {
		p.work(w)
		p.done.Done()
	}
}

func (p *Pool) work(w int) {
	for {
		c := int(p.next.Add(1) - 1)
		lo := c * p.grain
		if lo >= p.n {
			return
		}
		p.task.Do(w, lo, min(lo+p.grain, p.n))
	}
}

// Run does t over [0, n) in chunks of grain indices (at least 1) and
// returns when all are done. Work that fits one chunk runs on the caller
// alone.
func (p *Pool) Run(t Task, n, grain int) {
	grain = max(grain, 1)
	if n <= 0 {
		return
	}
	if n <= grain || p.workers == 1 {
		t.Do(0, 0, n)
		return
	}
	p.task, p.n, p.grain = t, n, grain
	p.next.Store(0)
	helpers := min(p.workers, (n+grain-1)/grain) - 1
	p.done.Add(helpers)
	for w := 1; w <= helpers; w++ {
		p.wake[w] <- struct{}{}
	}
	p.work(0)
	p.done.Wait()
	p.task = nil
}

// Close stops the workers. The pool must not be used after.
func (p *Pool) Close() {
	for w := 1; w < p.workers; w++ {
		close(p.wake[w])
	}
}

// grainFor splits n items so that each worker gets about four chunks,
// which balances uneven chunks without much scheduling.
func grainFor(n, workers int) int {
	return max(1, n/(4*workers))
}
