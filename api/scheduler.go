package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"strata/engine"
)

// A slot is one sequence's place: its stack and the tokens its KV cache
// holds (the prefix cache), and the job it runs, if any.
type slot struct {
	id     int
	stack  Stack
	held   []int32 // the tokens at positions [0, stack.Pos())
	job    *job
	used   time.Time
	logits []float32
}

// A scheduler runs jobs in the model's slots: those that do not fit wait
// in a bounded queue, and those that do not fit it are refused.
type scheduler struct {
	model    *Model
	stepper  Stepper
	slots    []*slot
	queueCap int
	chunk    int // prompt tokens per step
	metrics  *metrics
	book     *peerBook
	log      *slog.Logger

	mu     sync.Mutex
	queue  []*job
	active int // jobs in slots
	wake   chan struct{}
}

func newScheduler(m *Model, st Stepper, queue, chunk int, mt *metrics, book *peerBook, log *slog.Logger) *scheduler {
	s := &scheduler{model: m, stepper: st, queueCap: queue, chunk: chunk, metrics: mt, book: book, log: log, wake: make(chan struct{}, 1)}
	for i, stack := range m.Stacks {
		s.slots = append(s.slots, &slot{id: i, stack: stack, logits: make([]float32, stack.VocabSize())})
	}
	mt.slots.Add(float64(len(s.slots)))
	return s
}

// submit queues a job, or refuses it when every slot and the queue are
// taken.
func (s *scheduler) submit(j *job) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active+len(s.queue) >= len(s.slots)+s.queueCap {
		slots := fmt.Sprintf("all %d slots", len(s.slots))
		if len(s.slots) == 1 {
			slots = "the slot"
		}
		return withCode(&apiError{status: http.StatusServiceUnavailable, Type: "server_error", retryAfter: 1,
			Message: fmt.Sprintf("api: %s and the queue of %d are busy; retry later", slots, s.queueCap)}, "server_busy")
	}
	s.queue = append(s.queue, j)
	s.metrics.queue.Inc()
	s.signal()
	return nil
}

// withdraw takes a job out of the queue if it is still there (its client
// went away before it started).
func (s *scheduler) withdraw(j *job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.queue {
		if q == j {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			s.metrics.queue.Dec()
			return
		}
	}
}

func (s *scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run is the scheduler's loop, until ctx ends.
func (s *scheduler) run(ctx context.Context) {
	var seqs []Seq
	var jobs []*job
	for {
		s.admit()
		seqs, jobs = s.plan(seqs[:0], jobs[:0])
		if len(seqs) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.stepper.Step(seqs)
		for i, j := range jobs {
			s.advance(j, &seqs[i])
		}
	}
}

// admit moves queued jobs into free slots: each into the free slot whose
// cache shares the longest prefix with its prompt (of equal ones, the
// least recently used), cut back to that prefix.
func (s *scheduler) admit() {
	for {
		s.mu.Lock()
		var j *job
		var best *slot
		bestN := -1
		if len(s.queue) > 0 {
			j = s.queue[0]
			for _, sl := range s.slots {
				if sl.job != nil {
					continue
				}
				n := commonPrefix(sl.held, j.prompt[:len(j.prompt)-1])
				if n > bestN || n == bestN && sl.used.Before(best.used) {
					best, bestN = sl, n
				}
			}
		}
		if best == nil {
			s.mu.Unlock()
			return
		}
		s.queue = s.queue[1:]
		s.metrics.queue.Dec()
		if j.ctx.Err() != nil {
			s.mu.Unlock()
			continue // its client is gone
		}
		best.job = j
		s.active++
		s.metrics.active.Inc()
		s.mu.Unlock()
		s.bind(best, j, bestN)
	}
}

// commonPrefix is the number of leading tokens a and b share.
func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// bind starts j in sl, whose cache keeps its first n tokens.
func (s *scheduler) bind(sl *slot, j *job, n int) {
	sl.stack.Truncate(n)
	sl.held = sl.held[:n]
	j.fed, j.cached = n, n
	j.sampler = engine.NewSampler(j.set.sampler, sl.stack.VocabSize())
	j.history = append(make([]int32, 0, len(j.prompt)+64), j.prompt...)
	j.text = s.model.Vocab.NewTextStream()
	j.stop = Stopper{Stops: j.set.stops}
	j.start = time.Now()
	s.log.Debug("job started", "id", j.id, "slot", sl.id, "prompt_tokens", len(j.prompt), "cached", n)
}

// plan builds the next step: each active job's next prompt chunk, or its
// last token. A job whose client went away is ended first: it never
// takes another step.
func (s *scheduler) plan(seqs []Seq, jobs []*job) ([]Seq, []*job) {
	for _, sl := range s.slots {
		j := sl.job
		if j == nil {
			continue
		}
		if j.ctx.Err() != nil {
			s.log.Debug("client went away", "id", j.id, "slot", sl.id, "generated", j.generated)
			s.release(sl)
			continue
		}
		q := Seq{Slot: sl.id, Logits: sl.logits}
		if j.fed < len(j.prompt) {
			q.Tokens = j.prompt[j.fed:min(j.fed+s.chunk, len(j.prompt))]
			q.Needs = engine.LogitsNeeds{TopK: 1} // logits no one samples
			if j.fed+len(q.Tokens) == len(j.prompt) {
				q.Needs = j.needs()
			}
		} else {
			q.Tokens = []int32{j.next}
			q.Needs = j.needs()
		}
		seqs = append(seqs, q)
		jobs = append(jobs, j)
	}
	return seqs, jobs
}

// advance takes a job's step result: the prompt moves on, or a token is
// sampled, emitted, and checked against the ends of generation.
func (s *scheduler) advance(j *job, q *Seq) {
	sl := s.slots[q.Slot]
	s.book.stepped(sl.id, sl.stack, len(q.Tokens))
	if q.Err != nil {
		sl.stack.Truncate(0)
		sl.held = sl.held[:0]
		if j.generated == 0 && !j.retried {
			// Nothing was sent yet: start over on an empty cache once (a
			// peer may have ended an idle session the cache relied on).
			s.log.Warn("a step failed; computing the prompt again without the cache", "id", j.id, "slot", sl.id, "err", q.Err)
			j.retried, j.fed, j.cached = true, 0, 0
			j.start = time.Now()
			return
		}
		s.log.Warn("generation failed", "id", j.id, "slot", sl.id, "err", q.Err)
		j.push(event{final: &outcome{err: &apiError{status: http.StatusBadGateway, Type: "server_error",
			Message: "api: generation failed: " + q.Err.Error()}}})
		s.release(sl)
		return
	}
	sl.held = append(sl.held, q.Tokens...)
	if j.fed < len(j.prompt) {
		j.fed += len(q.Tokens)
		if j.fed < len(j.prompt) {
			return
		}
		j.promptTime = time.Since(j.start)
		s.metrics.promptTokens.Add(float64(len(j.prompt) - j.cached))
		s.metrics.cachedTokens.Add(float64(j.cached))
	}
	var lp []tokenLogprob
	if j.set.logprobs {
		j.raw = append(j.raw[:0], q.Logits...)
	}
	tok := j.sampler.Sample(q.Logits, j.history)
	if !j.set.ignoreEOS && s.model.Vocab.IsEOG(tok) {
		s.finish(sl, "stop", false)
		return
	}
	if j.set.logprobs {
		lp = []tokenLogprob{logprobsOf(s.model.Vocab, j.raw, tok, j.set.topLogprobs)}
	}
	now := time.Now()
	if j.generated == 0 {
		j.first = now
		s.metrics.ttft.Observe(now.Sub(j.arrived).Seconds())
	} else {
		s.metrics.itl.Observe(now.Sub(j.last).Seconds())
	}
	j.last = now
	j.generated++
	j.shown.Store(int64(j.generated))
	s.metrics.completionTokens.Inc()
	j.history = append(j.history, tok)
	out, stopped := j.stop.Add(j.text.Add(tok))
	if out != "" || lp != nil {
		j.push(event{text: out, logprobs: lp})
	}
	switch {
	case stopped:
		s.finish(sl, "stop", true)
	case j.set.maxTokens > 0 && j.generated >= j.set.maxTokens, sl.stack.Pos() >= sl.stack.Context():
		s.finish(sl, "length", false)
	default:
		j.next = tok
	}
}

// finish ends the job in sl: the text held back is released (unless a
// stop string ended it), then the outcome.
func (s *scheduler) finish(sl *slot, reason string, stopped bool) {
	j := sl.job
	if !stopped {
		out, hit := j.stop.Add(j.text.Flush())
		if hit {
			reason = "stop"
		} else {
			out += j.stop.Flush()
		}
		if out != "" {
			j.push(event{text: out})
		}
	}
	j.push(event{final: &outcome{finish: reason, usage: j.usage(), timings: j.timings()}})
	s.log.Debug("job done", "id", j.id, "slot", sl.id, "finish", reason, "tokens", j.generated)
	s.release(sl)
}

// release frees a slot; its cache stays for the next prompt that shares
// a prefix with it.
func (s *scheduler) release(sl *slot) {
	sl.held = sl.held[:sl.stack.Pos()]
	sl.used = time.Now()
	s.mu.Lock()
	sl.job = nil
	s.active--
	s.metrics.active.Dec()
	s.mu.Unlock()
}

// busy reports the jobs in slots and in the queue.
func (s *scheduler) busy() (active, queued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active, len(s.queue)
}

// drain ends, once the loop has returned, the jobs still in slots or
// queued (their clients hear that the model was unloaded), and takes the
// slots out of the gauges: the model is going away.
func (s *scheduler) drain() {
	gone := &outcome{err: &apiError{status: http.StatusServiceUnavailable, Type: "server_error", retryAfter: 1,
		Message: "api: model " + s.model.ID + " was unloaded; retry"}}
	for _, sl := range s.slots {
		if sl.job != nil {
			sl.job.push(event{final: gone})
			s.release(sl)
		}
	}
	s.mu.Lock()
	for _, j := range s.queue {
		j.push(event{final: gone})
	}
	s.metrics.queue.Sub(float64(len(s.queue)))
	s.queue = nil
	s.mu.Unlock()
	s.metrics.slots.Sub(float64(len(s.slots)))
}
