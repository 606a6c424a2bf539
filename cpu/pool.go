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

// spinFor is how long an idle worker looks for the next task, and Run for
// its helpers to finish, before sleeping: a decode step runs dozens of
// short tasks back to back, and waking a sleeping goroutine costs more
// than many of them. The bound keeps spinning from starving other
// processes on a busy machine.
const spinFor = 50 * time.Microsecond

// A Pool is a fixed set of goroutines that stay alive between tasks, so
// that running a task costs a store that spinning workers see, or the
// wake-up of sleeping ones, not a goroutine start. The caller of Run works
// too, as worker 0. A Pool runs one task at a time; Run must not be called
// concurrently.
//
// Each Run is a generation. Helper w learns of it from gen and reports
// finishing it in finished[w]; whoever is about to sleep says so in a
// flag that the other side clears, with a token on a channel, before it
// may go on. No count is shared, so a helper can only ever report the
// generation it ran.
type Pool struct {
	workers  int
	gen      atomic.Uint64   // the current generation; 0 never runs
	finished []atomic.Uint64 // per helper: the last generation it finished
	asleep   []atomic.Bool   // per helper: sleeping on wake
	wake     []chan struct{}
	waiting  atomic.Bool // Run sleeping on done
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
	p := &Pool{workers: workers, finished: make([]atomic.Uint64, workers), asleep: make([]atomic.Bool, workers),
		wake: make([]chan struct{}, workers), done: make(chan struct{}, 1)}
	for w := 1; w < workers; w++ {
		p.wake[w] = make(chan struct{}, 1)
		go p.loop(w)
	}
	return p
}

// Workers is the number of workers, the caller of Run included.
func (p *Pool) Workers() int { return p.workers }

// spin calls ready until it says true or spinFor passes, yielding to
// other goroutines now and then; it reports whether ready said true.
func spin(ready func() bool) bool {
	start := time.Now()
	for i := 0; ; i++ {
		if ready() {
			return true
		}
		if i%128 == 127 {
			runtime.Gosched()
			if time.Since(start) > spinFor {
				return false
			}
		}
	}
}

// loop is helper w: for each new generation, work, then report it.
func (p *Pool) loop(w int) {
	seen := uint64(0)
	for {
		fresh := func() bool { return p.gen.Load() != seen }
		if !spin(fresh) {
			p.asleep[w].Store(true)
			if fresh() {
				if !p.asleep[w].CompareAndSwap(true, false) {
					<-p.wake[w] // Run saw the flag and sent a token: take it
				}
			} else {
				<-p.wake[w] // Run cleared the flag and sent this
			}
		}
		if p.closed.Load() {
			return
		}
		g := p.gen.Load()
		if g == seen {
			continue
		}
		seen = g
		p.work(w)
		p.finished[w].Store(g)
		if p.waiting.Load() && p.allFinished(g) && p.waiting.CompareAndSwap(true, false) {
			// Run may be waiting for a later generation: it looks again.
			p.done <- struct{}{}
		}
	}
}

func (p *Pool) allFinished(g uint64) bool {
	for w := 1; w < p.workers; w++ {
		if p.finished[w].Load() != g {
			return false
		}
	}
	return true
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
	g := p.gen.Add(1)
	p.wakeSleepers()
	p.work(0)
	p.wait(g)
	p.task = nil
}

// wait returns when every helper has finished generation g. A signal on
// done only means "look again": a helper preempted after finishing an
// earlier generation may send one late.
func (p *Pool) wait(g uint64) {
	finished := func() bool { return p.allFinished(g) }
	for !spin(finished) {
		p.waiting.Store(true)
		if finished() {
			if !p.waiting.CompareAndSwap(true, false) {
				<-p.done // a helper saw the flag and signalled: take it
			}
			return
		}
		<-p.done
	}
}

// wakeSleepers wakes the helpers that sleep.
func (p *Pool) wakeSleepers() {
	for w := 1; w < p.workers; w++ {
		if p.asleep[w].CompareAndSwap(true, false) {
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
