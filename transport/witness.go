package transport

import (
	"context"
	"errors"
	"fmt"
	"math"
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
// of its own, fed with the hop's inputs in batches: at a check, what the
// hop computed since it was last fed, and, for a local one, between
// checks too (catchUp).
type witness struct {
	// mu is held by whoever computes on the witness: a check, or a local
	// witness's catch-up between checks (catchUp).
	mu       sync.Mutex
	catching sync.WaitGroup   // the catch-up running
	epoch    int              // bumped when the hop's history is cut back
	frag     *engine.Fragment // local; nil for a replica
	session  *engine.Session
	peer     *Peer // a replica
	backend  string
	remote   uint64 // the replica's session
	c        *compressor
	fed      int // entries of the hop's history fed so far
	pos      int
	want     []float32 // the output of its last batch
	// out and picked are the buffers of its outputs, kept from one check
	// to the next: a check's are read before the hop's next forward.
	out, picked []float32
}

// buffer returns w.out resized to n values.
func (w *witness) buffer(n int) []float32 {
	if cap(w.out) < n {
		w.out = make([]float32, n)
	}
	w.out = w.out[:n]
	return w.out
}

// checkDue reports whether the hop's next forward is to be checked: the
// first always, then a VerifyRate share of them, drawn at random when the
// forward before was acknowledged (drawCheck).
func (r *Route) checkDue(h *hop) bool {
	return r.o.VerifyRate > 0 && (h.stats.Forwards == 0 || h.checkNext)
}

// drawCheck draws whether the hop's next forward is to be checked, and
// reports it. It is drawn one forward ahead so that a local witness can
// catch up on the forwards before it while the other hops compute: the
// check then computes the checked request alone, beside the peer.
func (r *Route) drawCheck(h *hop) bool {
	r.mu.Lock() // the hops of a prompt's pipeline draw at once
	defer r.mu.Unlock()
	h.checkNext = r.rng.Float64() < r.o.VerifyRate
	return h.checkNext
}

// witnessFor finds or makes hop h's witness; nil when there is none.
func (r *Route) witnessFor(ctx context.Context, h *hop) *witness {
	if h.witness != nil && (h.witness.frag != nil || h.witness.peer != h.peer) {
		return h.witness
	}
	h.witness = nil
	if r.o.Witness != nil {
		frag, err := r.o.Witness(h.info.SHA256)
		if err != nil {
			r.o.Logger.Warn("no local witness for a hop", "layers", fmt.Sprintf("%d-%d", h.start, h.end-1), "err", err)
		}
		if frag != nil {
			s, err := frag.NewSession(r.context)
			if err == nil {
				h.witness = &witness{frag: frag, session: s, backend: frag.Backend().Name(), c: newCompressor()}
				return h.witness
			}
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
			h.witness = &witness{peer: p, backend: info.Backend, remote: r.session ^ uint64(h.start+1)<<56, c: newCompressor()}
			return h.witness
		}
	}
	return nil
}

// An expectation is what a hop's witness computed for a checked request:
// the output it expects of the peer, or no witness (w nil) when the
// forward goes unchecked.
type expectation struct {
	w    *witness
	want []float32
}

// expect has the witness recompute the request at the end of pending (the
// hop's history since the last check, then that request) while the peer
// computes it: it returns at once, and the channel gives the expectation.
// The hop's witness is the goroutine's until then.
func (r *Route) expect(ctx context.Context, hi int, pending [][]byte) <-chan expectation {
	c := make(chan expectation, 1)
	go func() { c <- r.witnessed(ctx, hi, pending) }()
	return c
}

// witnessed computes what the hop's witness expects of the request at the
// end of pending.
func (r *Route) witnessed(ctx context.Context, hi int, pending [][]byte) expectation {
	h := r.hops[hi]
	w := r.witnessFor(ctx, h)
	if w == nil {
		if !h.unwitnessed {
			h.unwitnessed = true
			r.o.Logger.Warn("no witness to check a hop: no local fragment and no replica", "layers", fmt.Sprintf("%d-%d", h.start, h.end-1))
		}
		return expectation{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fed > len(pending) { // the history was cut back (Truncate): start over
		w.fed, w.pos, w.want = 0, 0, nil
	}
	if w.fed < len(pending) {
		want, _, err := r.witnessBatch(ctx, h, w, pending[w.fed:], true)
		if err != nil {
			// The witness, not the peer, failed: drop it (a new one starts
			// over at the next check), and leave this forward unchecked.
			r.o.Logger.Warn("the witness failed", "layers", fmt.Sprintf("%d-%d", h.start, h.end-1), "err", err)
			if w.session != nil {
				w.session.Close()
			}
			h.witness = nil
			return expectation{}
		}
		if want == nil {
			return expectation{}
		}
		w.fed, w.want = len(pending), want
	}
	return expectation{w: w, want: w.want}
}

// catchUpAt is the least number of a hop's requests that a local
// witness computes in one batch between checks when no check is next:
// fewer, and the batch reads the weights for too few positions.
const catchUpAt = 4

// catchUp has hop h's local witness compute, on a goroutine of its own,
// the requests the hop answered since it last computed: all of them when
// the next forward is checked (due), so that the check computes only the
// checked request, beside the peer, rather than all since the last check,
// after it; else once there are catchUpAt of them, or 2/VerifyRate,
// which bounds what a check may find left. The machine coordinating a
// route mostly waits on its peers: the witness computes in that time. A
// check waits for a catch-up that is running; a history cut back
// meanwhile (Truncate) makes it compute nothing.
func (r *Route) catchUp(h *hop, due bool) {
	w := h.witness
	if w == nil || w.frag == nil || !w.mu.TryLock() {
		return // a replica witness computes at checks only; or it is busy
	}
	base, epoch := w.fed, w.epoch
	w.mu.Unlock()
	least := max(catchUpAt, int(2/r.o.VerifyRate))
	if due {
		least = 1
	}
	if base > len(h.sent) || len(h.sent)-base < least {
		return
	}
	requests := append([][]byte(nil), h.sent[base:]...)
	w.catching.Go(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.epoch != epoch || w.fed != base {
			return
		}
		// The outputs are left out: the next check computes the one it
		// compares.
		want, _, err := r.witnessBatch(r.ctx, h, w, requests, false)
		if err != nil || want == nil {
			return // the next check computes them, and drops a failing witness
		}
		w.fed, w.want = base+len(requests), nil
	})
}

// computing is what serializes the witnesses computing on frag: a
// fragment computes one batch at a time, and the catch-ups and checks of
// the routes sharing it run on goroutines of their own.
func (r *Route) computing(frag *engine.Fragment) *sync.Mutex {
	r.pool.mu.Lock()
	defer r.pool.mu.Unlock()
	if r.pool.computing == nil {
		r.pool.computing = map[*engine.Fragment]*sync.Mutex{}
	}
	m := r.pool.computing[frag]
	if m == nil {
		m = new(sync.Mutex)
		r.pool.computing[frag] = m
	}
	return m
}

// caughtUp waits for the witnesses' catch-ups to end.
func (r *Route) caughtUp() {
	for _, h := range r.hops {
		if h.witness != nil {
			h.witness.catching.Wait()
		}
	}
}

// verdict compares what the hop's peer answered (out) with what its
// witness expects: bit for bit when both compute on the same backend,
// within NMSE 1e-9 otherwise.
func (r *Route) verdict(hi int, e expectation, out []float32) error {
	h, w := r.hops[hi], e.w
	if w == nil {
		return nil
	}
	if len(e.want) < len(out) {
		r.o.Logger.Warn("the witness computed less than the request", "layers", fmt.Sprintf("%d-%d", h.start, h.end-1))
		h.witness = nil
		return nil
	}
	want := e.want[len(e.want)-len(out):]
	h.stats.Checked++
	if agree(out, want, w.backend == h.info.Backend) {
		return nil
	}
	h.stats.Mismatched++
	if w.frag == nil {
		return fmt.Errorf("transport: layers %d-%d: %s (%.12s) and its replica %s (%.12s) computed different outputs from the same inputs, and nothing here can tell which is right",
			h.start, h.end-1, h.peer.Addr, h.peer.ID, w.peer.Addr, w.peer.ID)
	}
	return fmt.Errorf("%w: %s (%.12s) on layers %d-%d, against this machine's computation of them (NMSE %.3g)",
		ErrMismatch, h.peer.Addr, h.peer.ID, h.start, h.end-1, nmse(out, want))
}

// witnessBatch has the witness compute, in one batch, the requests it has
// not seen, and returns the output and the positions computed; a nil
// output when a replica witness failed (it is dropped, and the check
// skipped). A local witness computes the output of the last run of
// positions only if output is set, and of the others never: they only
// fill its cache.
func (r *Route) witnessBatch(ctx context.Context, h *hop, w *witness, requests [][]byte, output bool) ([]float32, int, error) {
	// The requests run in order; one that starts before the witness's end
	// (a retried chunk, a replay) cuts it back first, as a peer does. Each
	// run of consecutive positions is one batch; the last one's output is
	// what the check compares.
	var want []float32
	n := 0
	for i := 0; i < len(requests); {
		batch := &ForwardRequest{Session: w.remote}
		for ; i < len(requests); i++ {
			req, err := w.c.decodeForward(requests[i], r.embd, r.context)
			if err != nil {
				return nil, 0, err
			}
			if batch.N == 0 {
				if req.Pos > w.pos {
					return nil, 0, fmt.Errorf("transport: the witness of layers %d-%d holds %d positions, the history goes on at %d", h.start, h.end-1, w.pos, req.Pos)
				}
				batch.Pos = req.Pos
			} else if req.Pos != batch.Pos+batch.N {
				break // the next run starts here
			}
			batch.N += req.N
			batch.Tokens = append(batch.Tokens, req.Tokens...)
			batch.Hidden = append(batch.Hidden, req.Hidden...)
			batch.Needs = req.Needs
		}
		out, err := r.witnessRun(ctx, h, w, batch, output && i == len(requests))
		if err != nil || out == nil {
			return nil, 0, err
		}
		want, w.pos, n = out, batch.Pos+batch.N, n+batch.N
	}
	return want, n, nil
}

// witnessRun computes one batch on the witness, at batch.Pos (cutting
// its session back there first). A local witness leaves the output out
// unless output is set (the batch only fills its cache, and its last
// layer computes keys and values alone), and returns none.
func (r *Route) witnessRun(ctx context.Context, h *hop, w *witness, batch *ForwardRequest, output bool) ([]float32, error) {
	last := h == r.hops[len(r.hops)-1]
	size := batch.N * r.embd
	skip := !output && w.frag != nil
	switch {
	case skip:
		size = 0
	case last:
		size = r.vocab
	}
	want := w.buffer(size)
	if w.frag != nil {
		computing := r.computing(w.frag)
		computing.Lock()
		w.session.Truncate(batch.Pos)
		err := w.frag.Forward(want, w.session, engine.Batch{Tokens: batch.Tokens, Hidden: batch.Hidden, CacheOnly: skip})
		computing.Unlock()
		if err != nil {
			return nil, fmt.Errorf("transport: the local witness of layers %d-%d: %w", h.start, h.end-1, err)
		}
		if last && !skip && batch.Needs.TopK > 0 {
			if cap(w.picked) < len(want) {
				w.picked = make([]float32, len(want))
			}
			w.picked = w.picked[:len(want)]
			sparse(w.picked, want, batch.Needs)
			want = w.picked
		}
		return want, nil
	}
	if _, err := r.forward(ctx, h, w.peer, batch.N, w.c.encodeForward(batch, WireF32), want); err != nil {
		h.witness = nil // find another next time
		r.o.Logger.Warn("the witness failed", "peer", w.peer.Addr, "err", err)
		return nil, nil
	}
	return want, nil
}

// sparse writes to out the logits the needs choose, the others −∞, as a
// last peer sends them.
func sparse(out, logits []float32, needs engine.LogitsNeeds) {
	for i := range out {
		out[i] = float32(math.Inf(-1))
	}
	for _, id := range chooseLogits(logits, needs) {
		out[id] = logits[id]
	}
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
