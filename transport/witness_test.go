package transport

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"sync"
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
			out[0] = math.Float32frombits(math.Float32bits(out[0]) ^ 1<<22)
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
