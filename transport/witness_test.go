package transport

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quic-go/quic-go"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
)

// localFragments opens the split's fragments on this machine, by sha256,
// as witnesses.
func localFragments(t *testing.T, dir string, m *engine.Manifest) func(string) (*engine.Fragment, error) {
	var mu sync.Mutex
	open := map[string]*engine.Fragment{}
	return func(sum string) (*engine.Fragment, error) {
		mu.Lock()
		defer mu.Unlock()
		if f, ok := open[sum]; ok {
			return f, nil
		}
		for _, fr := range m.Fragments {
			if fr.SHA256 != sum {
				continue
			}
			file, err := gguf.Open(filepath.Join(dir, fr.File))
			if err != nil {
				return nil, err
			}
			b := cpu.New(cpu.Options{Threads: 1})
			t.Cleanup(func() { b.Close(); file.Close() })
			f, err := engine.NewFragment(file, b, engine.FragmentOptions{})
			open[sum] = f
			return f, err
		}
		return nil, nil
	}
}

// perturb relays requests to an honest peer of the middle layers and
// flips a bit of the hidden states it returns.
func (h *hostileRoute) perturb(t *testing.T) func(*hostilePeer, *quic.Stream, FrameType, []byte) {
	return h.perturbFrom(t, 0)
}

// perturbFrom is perturb, honest for the first honest forwards.
func (h *hostileRoute) perturbFrom(t *testing.T, honest int) func(*hostilePeer, *quic.Stream, FrameType, []byte) {
	var forwards atomic.Int64
	inner, err := Dial(context.Background(), h.replica.addr, dialOptions(t, h.swarm))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	return func(p *hostilePeer, s *quic.Stream, typ FrameType, payload []byte) {
		if p.answerInfo(s, typ) {
			return
		}
		f, _ := parseForward(payload)
		out := make([]float32, f.n*p.info.Embedding)
		compute, err := inner.forward(context.Background(), payload, out)
		if err != nil {
			WriteFrame(s, FrameError, []byte(err.Error()))
		} else {
			if forwards.Add(1) > int64(honest) {
				out[0] = math.Float32frombits(math.Float32bits(out[0]) ^ 1<<22)
			}
			WriteFrame(s, FrameResult, newCompressor().encodeResult(out, WireF32, false, uint32(compute.Microseconds())))
		}
		s.Close()
	}
}

// TestWitness: with every forward checked against local fragments, an
// honest route passes every check and keeps its tokens; a middle peer
// that flips a bit of its output is caught at its first forward and loses
// its layers to the replica, and the tokens are exact.
func TestWitness(t *testing.T) {
	h := newHostileRoute(t)
	dir := filepath.Dir(filepath.Join(h.replica.server.o.Files[h.m.Fragments[1].SHA256]))
	o := h.options(t)
	o.VerifyRate, o.Witness = 1, localFragments(t, dir, h.m)
	r, err := NewRoute(context.Background(), []string{h.first.addr, h.replica.addr, h.last.addr}, o)
	if err != nil {
		t.Fatal(err)
	}
	got := generate(t, r, h.prompt)
	r.Close()
	if !slices.Equal(got, h.want) {
		t.Errorf("checked honest route: %v, want %v", got, h.want)
	}
	for i, st := range r.Stats() {
		if st.Checked != st.Forwards || st.Mismatched != 0 {
			t.Errorf("hop %d: %d of %d forwards checked, %d failed", i, st.Checked, st.Forwards, st.Mismatched)
		}
	}
	bad := startHostile(t, h.swarm, h.honestMiddle(), h.perturb(t))
	o.VerifyRate = 0.1
	r, err = NewRoute(context.Background(), []string{h.first.addr, bad.addr, h.replica.addr, h.last.addr}, o)
	if err != nil {
		t.Fatal(err)
	}
	got = generate(t, r, h.prompt)
	r.Close()
	if !slices.Equal(got, h.want) {
		t.Errorf("with a perturbing peer: %v, want %v", got, h.want)
	}
	if st := r.Stats()[1]; st.Addr != h.replica.addr || st.Replaced != 1 || st.Mismatched != 1 {
		t.Errorf("the middle hop: %+v", st)
	}
}

// TestWitnessTruncate: a route cut back (a server's prefix cache does it)
// and checked at every forward keeps passing its checks: the witness
// starts over from the kept history instead of comparing with stale
// outputs.
func TestWitnessTruncate(t *testing.T) {
	h := newHostileRoute(t)
	dir := filepath.Dir(h.replica.server.o.Files[h.m.Fragments[1].SHA256])
	o := h.options(t)
	o.VerifyRate, o.Witness = 1, localFragments(t, dir, h.m)
	r, err := NewRoute(context.Background(), []string{h.first.addr, h.replica.addr, h.last.addr}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	logits := make([]float32, r.VocabSize())
	eval := func(tokens []int32) {
		t.Helper()
		if err := r.Eval(logits, tokens); err != nil {
			t.Fatal(err)
		}
	}
	eval(h.prompt)
	for _, tok := range []int32{7, 8, 9} {
		eval([]int32{tok})
	}
	r.Truncate(4)
	eval(h.prompt[4:])
	eval([]int32{11})
	for i, st := range r.Stats() {
		if st.Mismatched != 0 || st.Checked == 0 {
			t.Errorf("hop %d: %d checked, %d failed", i, st.Checked, st.Mismatched)
		}
	}
}

// TestWitnessCatchUp: between checks, each hop's local witness computes
// the forwards answered since it last did (catchUp), so that a check
// computes only the few since then; the tokens are exact, every check of
// an honest route agrees, and a peer that turns dishonest after a run of
// honest forwards is caught at a later check and replaced. (The tokens
// after its first dishonest forward may differ: the forwards between two
// checks go unchecked, which is what a rate below 1 means.)
func TestWitnessCatchUp(t *testing.T) {
	h := newHostileRoute(t)
	dir := filepath.Dir(h.replica.server.o.Files[h.m.Fragments[1].SHA256])
	run := func(addrs []string, rate float64) ([]int32, *Route) {
		t.Helper()
		o := h.options(t)
		o.VerifyRate, o.Witness = rate, localFragments(t, dir, h.m)
		r, err := NewRoute(context.Background(), addrs, o)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		res, err := engine.Generate(context.Background(), r, h.prompt, engine.GenerateOptions{MaxTokens: 40, IgnoreEOS: true}, func(int32) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		r.caughtUp()
		return res.Tokens, r
	}
	honest := []string{h.first.addr, h.replica.addr, h.last.addr}
	want, _ := run(honest, 0)
	const rate = 0.125
	got, r := run(honest, rate) // catch-ups before each check, and every 16 forwards
	if !slices.Equal(got, want) {
		t.Errorf("checked honest route: %v, want %v", got, want)
	}
	for i, hp := range r.hops {
		if w := hp.witness; w == nil || w.fed <= len(hp.sent)-max(catchUpAt, int(2/rate)) {
			t.Errorf("hop %d: its witness computed too few of %d forwards", i, len(hp.sent))
		}
	}
	for i, st := range r.Stats() {
		if st.Checked == 0 || st.Checked == st.Forwards || st.Mismatched != 0 {
			t.Errorf("hop %d: %d of %d forwards checked, %d failed", i, st.Checked, st.Forwards, st.Mismatched)
		}
	}
	bad := startHostile(t, h.swarm, h.honestMiddle(), h.perturbFrom(t, 6))
	got, r = run([]string{h.first.addr, bad.addr, h.replica.addr, h.last.addr}, 0.25)
	if !slices.Equal(got[:6], want[:6]) {
		t.Errorf("with a peer perturbing from its 7th forward: %v, want %v before it", got, want)
	}
	if st := r.Stats()[1]; st.Addr != h.replica.addr || st.Replaced != 1 || st.Mismatched != 1 {
		t.Errorf("the middle hop: %+v", st)
	}
}

// TestWitnessGroup: the routes of a group share the local fragments their
// witnesses compute on; their catch-ups and checks run on goroutines of
// their own, one batch at a time on a fragment (the race detector sees
// any other), and every route keeps the reference's greedy tokens.
func TestWitnessGroup(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 1}, {1, 3}, {3, 4}})
	swarm := testSwarm(t)
	addrs := startPeers(t, dir, m, swarm)
	o := RouteOptions{DialOptions: dialOptions(t, swarm), Manifest: m, Logger: quiet, VerifyRate: 0.125, Witness: localFragments(t, dir, m)}
	g, err := NewGroup(context.Background(), addrs, 4, o)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	generateGreedy(t, g, loadCases(t), 16, func(int) {}, "with witnesses")
	for i, r := range g.Routes() {
		for j, st := range r.Stats() {
			if st.Checked == 0 || st.Mismatched != 0 {
				t.Errorf("route %d, hop %d: %d checked, %d failed", i, j, st.Checked, st.Mismatched)
			}
		}
	}
}
