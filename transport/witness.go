package transport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"strata/engine"
)

// ErrMismatch reports a peer whose output differs from what its witness
// computed from the same inputs.
var ErrMismatch = errors.New("transport: a peer's output differs from its witness's")

// A witness recomputes a hop's forwards to check the peer serving it: a
// fragment of the same layers on this machine (trusted: a peer that
// disagrees with it is dropped), or else a replica peer (a disagreement
// then says that one of the two is wrong, not which). It keeps a session
// of its own, fed with the hop's inputs only when a check comes, in one
// batch: what the hop computed since the last check.
//
// The first check of a hop runs before its output is used; the others
// run on the witness's own goroutine while generation goes on (a route
// mostly waits on round trips), and a failed one is acted on at the hop's
// next request.
type witness struct {
	frag    *engine.Fragment // local; nil for a replica
	session *engine.Session
	peer    *Peer // a replica
	backend string
	remote  uint64 // the replica's session
	jobs    chan witnessJob
	done    chan struct{}

	mu                  sync.Mutex // one batch at a time; guards what follows
	c                   *compressor
	fed                 int // entries of the hop's history fed so far
	pos                 int
	want                []float32 // the output of its last batch
	failure             error     // a check the serving peer failed, not yet acted on
	failed              *Peer     // that peer
	broken              bool      // a replica witness that failed: find another
	checked, mismatched int
}

// A witnessJob is one check: the hop's history up to and including the
// request checked, and the serving peer's answer to it.
type witnessJob struct {
	pending     [][]byte
	out         []float32
	last        bool
	peer        *Peer
	peerBackend string
	start, end  int
}

// checkDue reports whether the hop's next forward is to be checked: the
// first always, then a VerifyRate share of them at random.
func (r *Route) checkDue(h *hop) bool {
	if r.o.VerifyRate <= 0 {
		return false
	}
	r.mu.Lock() // the hops of a prompt's pipeline ask at once
	defer r.mu.Unlock()
	return h.stats.Forwards == 0 || r.rng.Float64() < r.o.VerifyRate
}

// witnessFor finds or makes hop h's witness; nil when there is none.
func (r *Route) witnessFor(ctx context.Context, h *hop) *witness {
	if w := h.witness; w != nil {
		w.mu.Lock()
		broken := w.broken
		w.mu.Unlock()
		if !broken && (w.frag != nil || w.peer != h.peer) {
			return w
		}
		w.stop()
		h.retire(w)
		h.witness = nil
	}
	if r.o.Witness != nil {
		frag, err := r.o.Witness(h.info.SHA256)
		if err == nil && frag != nil {
			var s *engine.Session
			if s, err = frag.NewSession(r.context); err == nil {
				h.witness = r.startWitness(&witness{frag: frag, session: s, backend: frag.Backend().Name()})
				return h.witness
			}
		}
		if err != nil {
			r.o.Logger.Warn("no local witness for a hop", "layers", fmt.Sprintf("%d-%d", h.start, h.end-1), "err", err)
		}
	}
	r.mu.Lock()
	var others []*Peer
	for _, a := range r.addrs {
		if p := r.peers[a]; p != nil && p != h.peer {
			others = append(others, p)
		}
	}
	r.mu.Unlock()
	for _, p := range others {
		ictx, cancel := context.WithTimeout(ctx, 3*time.Second)
		info, err := p.Info(ictx)
		cancel()
		if err == nil && info.Start == h.start && info.End == h.end && info.SHA256 == h.info.SHA256 {
			h.witness = r.startWitness(&witness{peer: p, backend: info.Backend, remote: r.session ^ uint64(h.start+1)<<56})
			return h.witness
		}
	}
	return nil
}

// startWitness starts the witness's goroutine.
func (r *Route) startWitness(w *witness) *witness {
	w.c, w.jobs, w.done = newCompressor(), make(chan witnessJob, 16), make(chan struct{})
	go func() {
		defer close(w.done)
		for job := range w.jobs {
			r.runCheck(w, job)
		}
	}()
	return w
}

// stop ends the witness's goroutine once its queued checks are done.
func (w *witness) stop() {
	close(w.jobs)
	<-w.done
	if w.session != nil {
		w.session.Close()
	}
}

// takeFailure returns, once, a check the hop's serving peer p failed.
func (h *hop) takeFailure(p *Peer) error {
	w := h.witness
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	err, failed := w.failure, w.failed
	w.failure, w.failed = nil, nil
	if err != nil && failed == p {
		return err
	}
	return nil
}

// check has hop hi's witness recompute what the serving peer answered
// (out) to the request at the end of pending (the hop's history since the
// last check, then that request), and compare: bit for bit when both
// compute on the same backend, within NMSE 1e-9 otherwise. With wait, it
// returns the verdict; otherwise the check is queued (or skipped when the
// witness is behind) and a failure shows at the hop's next request.
func (r *Route) check(ctx context.Context, hi int, pending [][]byte, out []float32, wait bool) error {
	h := r.hops[hi]
	w := r.witnessFor(ctx, h)
	if w == nil {
		if !h.unwitnessed {
			h.unwitnessed = true
			r.o.Logger.Warn("no witness to check a hop: no local fragment and no replica", "layers", fmt.Sprintf("%d-%d", h.start, h.end-1))
		}
		return nil
	}
	job := witnessJob{pending: pending, out: slices.Clone(out), last: hi == len(r.hops)-1, peer: h.peer,
		peerBackend: h.info.Backend, start: h.start, end: h.end}
	if wait {
		r.runCheck(w, job)
		return h.takeFailure(h.peer)
	}
	select {
	case w.jobs <- job:
	default: // the witness is behind: this forward goes unchecked
	}
	return nil
}

// runCheck runs one check on the witness.
func (r *Route) runCheck(w *witness, job witnessJob) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken || len(job.pending) < w.fed {
		return // a replica that failed, or a check overtaken by a later one
	}
	if w.fed < len(job.pending) {
		want, n, err := r.witnessBatch(w, job.pending[w.fed:], job.last)
		if err != nil {
			w.broken = true
			r.o.Logger.Warn("the witness failed", "layers", fmt.Sprintf("%d-%d", job.start, job.end-1), "err", err)
			return
		}
		w.fed, w.pos, w.want = len(job.pending), w.pos+n, want
	}
	want := w.want[len(w.want)-len(job.out):]
	w.checked++
	if agree(job.out, want, w.backend == job.peerBackend) {
		return
	}
	w.mismatched++
	w.failed = job.peer
	if w.frag == nil {
		w.failure = fmt.Errorf("transport: layers %d-%d: %s (%.12s) and its replica %s (%.12s) computed different outputs from the same inputs, and nothing here can tell which is right",
			job.start, job.end-1, job.peer.Addr, job.peer.ID, w.peer.Addr, w.peer.ID)
		return
	}
	w.failure = fmt.Errorf("%w: %s (%.12s) on layers %d-%d, against this machine's computation of them (NMSE %.3g)",
		ErrMismatch, job.peer.Addr, job.peer.ID, job.start, job.end-1, nmse(job.out, want))
}

// witnessBatch has the witness compute, in one batch, the requests it has
// not seen, and returns the output and the positions computed.
func (r *Route) witnessBatch(w *witness, requests [][]byte, last bool) ([]float32, int, error) {
	batch := &ForwardRequest{Session: w.remote, Pos: w.pos}
	for _, payload := range requests {
		req, err := w.c.decodeForward(payload, r.embd, r.context)
		if err != nil {
			return nil, 0, err
		}
		batch.N += req.N
		batch.Tokens = append(batch.Tokens, req.Tokens...)
		batch.Hidden = append(batch.Hidden, req.Hidden...)
		batch.Needs = req.Needs
	}
	size := batch.N * r.embd
	if last {
		size = r.vocab
	}
	want := make([]float32, size)
	if w.frag != nil {
		if err := w.frag.Forward(want, w.session, engine.Batch{Tokens: batch.Tokens, Hidden: batch.Hidden}); err != nil {
			return nil, 0, fmt.Errorf("transport: the local witness: %w", err)
		}
		if last && batch.Needs.TopK > 0 {
			want = sparse(want, batch.Needs)
		}
		return want, batch.N, nil
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.o.FirstTimeout+time.Duration(batch.N)*250*time.Millisecond)
	defer cancel()
	if _, err := w.peer.forward(ctx, w.c.encodeForward(batch, WireF32), want); err != nil {
		return nil, 0, err
	}
	return want, batch.N, nil
}

// sparse keeps the logits the needs choose, the others −∞, as a last
// peer sends them.
func sparse(logits []float32, needs engine.LogitsNeeds) []float32 {
	out := make([]float32, len(logits))
	for i := range out {
		out[i] = float32(math.Inf(-1))
	}
	for _, id := range chooseLogits(logits, needs) {
		out[id] = logits[id]
	}
	return out
}

// agree compares outputs bit for bit, or within NMSE 1e-9 (−∞ and NaN
// where the other has the same).
func agree(got, want []float32, bits bool) bool {
	if bits {
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				return false
			}
		}
		return true
	}
	return nmse(got, want) <= 1e-9
}

// nmse is Σ(got − want)² / Σ want² over the finite values of want; a
// value that is not finite must be the same in both.
func nmse(got, want []float32) float64 {
	var num, den float64
	for i, w := range want {
		if math.IsInf(float64(w), 0) || math.IsNaN(float64(w)) {
			if math.Float32bits(got[i]) != math.Float32bits(w) {
				return math.Inf(1)
			}
			continue
		}
		d := float64(got[i]) - float64(w)
		num += d * d
		den += float64(w) * float64(w)
	}
	if den == 0 {
		return num
	}
	return num / den
}
