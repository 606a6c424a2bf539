package cpu

import (
	"runtime"
	"sync/atomic"
	"time"
)

// A Task is work over an index range, done in chunks by a Pool. Do gets
// the index of the worker running it, so a task can keep per-worker
// scratch space, and a chunk [lo, hi).
type Task interface {
	Do(worker, lo, hi int)
}

// spinFor is how long an idle worker looks for the next task, and Run
// for its helpers to finish, before sleeping: a decode step runs dozens of
// short tasks back to back, and waking a sleeping goroutine costs more
// than many of them. The bound keeps the spinning from starving other
// processes on a busy machine.
const spinFor = 50 * time.Microsecond

// spinning reports whether a spin that started at start, and has looked
// i times, may go on; it yields to other goroutines now and then.
func spinning(start time.Time, i int) bool {
	if i%128 != 127 {
		return true
	}
	runtime.Gosched()
	return time.Since(start) < spinFor
}

// A Pool is a fixed set of goroutines that stay alive between tasks, so
// that running a task costs a store that spinning workers see, or a
// wake-up of sleeping ones, not a goroutine start. The caller of Run works
// too, as worker 0. A Pool runs one task at a time; Run must not be called
// concurrently.
type Pool struct {
	workers  int
	wake     []chan struct{}
	sleeping []atomic.Bool
	gen      atomic.Uint64 // incremented by each Run; 0 never runs
	pending  atomic.Int64  // helpers not yet done with the current task
	waiting  atomic.Bool   // Run sleeps on done until pending is 0
	done     chan struct{}
	closed   atomic.Bool

	task  Task
	n     int
	grain int
	next  atomic.Int64
}

// NewPool starts a pool of the given number of workers (at least 1).
func NewPool(workers int) *Pool {
	workers = max(workers, 1)
	p := &Pool{workers: workers, wake: make([]chan struct{}, workers), sleeping: make([]atomic.Bool, workers),
		done: make(chan struct{}, 1)}
	for w := 1; w < workers; w++ {
		p.wake[w] = make(chan struct{}, 1)
		go p.loop(w)
	}
	return p
}

// Workers is the number of workers, the caller of Run included.
func (p *Pool) Workers() int { return p.workers }

// loop is helper w: it waits for each generation, works on it, and says
// it is done.
func (p *Pool) loop(w int) {
	seen := uint64(0)
	for {
		g := p.await(w, seen)
		if p.closed.Load() {
			return
		}
		seen = g
		p.work(w)
		if p.pending.Add(-1) == 0 && p.waiting.CompareAndSwap(true, false) {
			p.done <- struct{}{}
		}
	}
}

// await returns the first generation after seen: spinning first, then
// asleep until Run wakes the worker.
func (p *Pool) await(w int, seen uint64) uint64 {
	start := time.Now()
	for i := 0; spinning(start, i); i++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
	}
	p.sleeping[w].Store(true)
	if g := p.gen.Load(); g != seen || p.closed.Load() {
		if !p.sleeping[w].CompareAndSwap(true, false) {
			<-p.wake[w] // Run saw the worker asleep and sent a wake-up: take it
		}
		return p.gen.Load()
	}
	<-p.wake[w] // Run (or Close) cleared sleeping and sent this
	return p.gen.Load()
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
	p.pending.Store(int64(p.workers - 1))
	p.gen.Add(1)
	p.wakeSleepers()
	p.work(0)
	p.wait()
	p.task = nil
}

// wait returns when every helper is done with the current task: at once
// if they are, after a short spin if they finish soon, else asleep until
// the last one says so.
func (p *Pool) wait() {
	start := time.Now()
	for i := 0; spinning(start, i); i++ {
		if p.pending.Load() == 0 {
			return
		}
	}
	p.waiting.Store(true)
	if p.pending.Load() == 0 {
		if !p.waiting.CompareAndSwap(true, false) {
			<-p.done // the last helper saw the flag and signalled: take it
		}
		return
	}
	<-p.done
}

// wakeSleepers wakes the workers that went to sleep.
func (p *Pool) wakeSleepers() {
	for w := 1; w < p.workers; w++ {
		if p.sleeping[w].CompareAndSwap(true, false) {
			p.wake[w] <- struct{}{}
		}
	}
}

// Close stops the workers. The pool must not be used after.
func (p *Pool) Close() {
	p.closed.Store(true)
	p.gen.Add(1)
	p.wakeSleepers()
}

// grainFor splits n items so that each worker gets about four chunks,
// which balances uneven chunks without much scheduling.
func grainFor(n, workers int) int {
	return max(1, n/(4*workers))
}
