package engine_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/engine/testmodel"
	"strata/internal/testseed"
)

// TestForwardManyExact checks the contract of batching: a sequence's
// logits are bit-identical whether it runs alone or batched with others,
// at any place in the batch, for any chunking, on every kernel variant
// this machine runs, with passes cut at several batch sizes.
func TestForwardManyExact(t *testing.T) {
	for _, kernels := range []string{"generic", "avx2", "avx512"} {
		o := cpu.Options{Kernels: kernels, Threads: 2}
		if o.Validate() != nil {
			continue
		}
		for _, batch := range []int{3, 256} {
			t.Run(fmt.Sprintf("%s/batch%d", kernels, batch), func(t *testing.T) {
				b := cpu.New(o)
				t.Cleanup(func() { b.Close() })
				frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{Batch: batch})
				if err != nil {
					t.Fatal(err)
				}
				rng := testseed.New(t)
				for range 2 {
					if err := testmodel.CheckMany(frag, rng, 8); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// TestForwardManyCopies checks the same through a wrapped backend, which
// hides any capability of the one underneath: the copies to and from row
// 0 around RoPE and Attention must give the same bits.
func TestForwardManyCopies(t *testing.T) {
	b := &countingBackend{Backend: cpuBackend(t), t: t}
	frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := testmodel.CheckMany(frag, testseed.New(t), 12); err != nil {
		t.Fatal(err)
	}
}

// TestForwardManyGreedy runs every reference prompt of the tiny model
// through one ForwardMany, then decodes them greedily together, one
// batch a token: each must reproduce the exact pass's continuation.
func TestForwardManyGreedy(t *testing.T) {
	ref := loadReference(t)
	frag, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	vocab := frag.Config.Vocab
	parts := make([]engine.Part, len(ref.Cases))
	got := make([][]int32, len(ref.Cases))
	for i, c := range ref.Cases {
		s, err := frag.NewSession(256)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		parts[i] = engine.Part{Session: s, Batch: engine.Batch{Tokens: c.PromptTokens}, Out: make([]float32, vocab)}
	}
	for step := 0; ; step++ {
		var live []engine.Part
		for i, c := range ref.Cases {
			if step > 0 {
				got[i] = append(got[i], int32(argmax(parts[i].Out)))
			}
			if len(got[i]) < len(c.GreedyTokens) {
				if step > 0 {
					parts[i].Batch.Tokens = got[i][len(got[i])-1:]
				}
				live = append(live, parts[i])
			}
		}
		if len(live) == 0 {
			break
		}
		if err := frag.ForwardMany(live); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range ref.Cases {
		if !slices.Equal(got[i], c.GreedyTokens) {
			t.Errorf("case %d: got %v\nwant %v", i, got[i], c.GreedyTokens)
		}
	}
}

// TestForwardManySplit checks batches of hidden states: a model cut into
// two fragments, both run with ForwardMany, gives the whole model's
// logits, bit for bit.
func TestForwardManySplit(t *testing.T) {
	file := openTiny(t)
	b := cpuBackend(t)
	whole, err := engine.NewFragment(file, b, engine.FragmentOptions{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	cut := whole.Config.Layers / 2
	first, err := engine.NewFragment(file, b, engine.FragmentOptions{End: cut, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	last, err := engine.NewFragment(file, b, engine.FragmentOptions{Start: cut, Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	rng := testseed.New(t)
	e, vocab := whole.Config.Embedding, whole.Config.Vocab
	var in, out []engine.Part
	var wants [][]float32
	for i := range 5 {
		tokens := make([]int32, 1+rng.IntN(9))
		for j := range tokens {
			tokens[j] = int32(rng.IntN(vocab))
		}
		all := i%2 == 0
		s, _ := whole.NewSession(32)
		want := make([]float32, whole.OutputSize(len(tokens), all))
		if err := whole.Forward(want, s, engine.Batch{Tokens: tokens, AllLogits: all}); err != nil {
			t.Fatal(err)
		}
		wants = append(wants, want)
		s1, _ := first.NewSession(32)
		s2, _ := last.NewSession(32)
		h := make([]float32, len(tokens)*e)
		in = append(in, engine.Part{Session: s1, Batch: engine.Batch{Tokens: tokens}, Out: h})
		out = append(out, engine.Part{Session: s2, Batch: engine.Batch{Hidden: h, AllLogits: all}, Out: make([]float32, len(want))})
	}
	if err := first.ForwardMany(in); err != nil {
		t.Fatal(err)
	}
	if err := last.ForwardMany(out); err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if !slices.Equal(out[i].Out, wants[i]) {
			t.Errorf("part %d: the split batch's logits differ from the whole model's", i)
		}
	}
}

// TestForwardManyChecks checks that a bad part fails the whole call
// before anything is computed, naming the part, and that the probe sees
// each part's rows at its own positions.
func TestForwardManyChecks(t *testing.T) {
	var seen []string
	probe := func(layer int, stage engine.Stage, pos int, hidden []float32) {
		if layer == 0 && stage == engine.AfterAttention {
			seen = append(seen, fmt.Sprintf("%d+%d", pos, len(hidden)))
		}
	}
	frag, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{Batch: 4, Probe: probe})
	if err != nil {
		t.Fatal(err)
	}
	e, vocab := frag.Config.Embedding, frag.Config.Vocab
	a, _ := frag.NewSession(8)
	b, _ := frag.NewSession(8)
	c, _ := frag.NewSession(8)
	out := func() []float32 { return make([]float32, vocab) }
	if err := frag.Forward(out(), b, engine.Batch{Tokens: []int32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	seen = nil
	for _, bad := range []struct {
		name  string
		parts []engine.Part
		want  error
	}{
		{"none", nil, engine.ErrBadInput},
		{"shared", []engine.Part{{Session: a, Batch: engine.Batch{Tokens: []int32{1}}, Out: out()}, {Session: a, Batch: engine.Batch{Tokens: []int32{1}}, Out: out()}}, engine.ErrBadInput},
		{"closed", []engine.Part{{Session: a, Batch: engine.Batch{Tokens: []int32{1}}, Out: out()}, {Session: c, Batch: engine.Batch{Tokens: []int32{1}}, Out: out()}}, engine.ErrClosed},
		{"full", []engine.Part{{Session: a, Batch: engine.Batch{Tokens: []int32{1}}, Out: out()}, {Session: b, Batch: engine.Batch{Tokens: make([]int32, 7)}, Out: out()}}, engine.ErrContextFull},
		{"token", []engine.Part{{Session: a, Batch: engine.Batch{Tokens: []int32{int32(vocab)}}, Out: out()}}, engine.ErrBadInput},
	} {
		if err := frag.ForwardMany(bad.parts); !errors.Is(err, bad.want) {
			t.Errorf("%s: %v, want %v", bad.name, err, bad.want)
		}
	}
	if a.Pos() != 0 || b.Pos() != 2 || len(seen) != 0 {
		t.Fatalf("refused calls computed: positions %d and %d, probe saw %v", a.Pos(), b.Pos(), seen)
	}
	err = frag.ForwardMany([]engine.Part{
		{Session: b, Batch: engine.Batch{Tokens: []int32{3, 4}}, Out: out()},
		{Session: a, Batch: engine.Batch{Tokens: []int32{1, 5, 6}}, Out: out()},
		{Session: b, Batch: engine.Batch{Tokens: []int32{7}}, Out: out()},
	})
	if !errors.Is(err, engine.ErrBadInput) {
		t.Fatalf("a session twice: %v", err)
	}
	// Five rows in passes of four: b's two at positions 2 and 3 and a's
	// first two at 0 and 1, then a's last at 2.
	err = frag.ForwardMany([]engine.Part{
		{Session: b, Batch: engine.Batch{Tokens: []int32{3, 4}}, Out: out()},
		{Session: a, Batch: engine.Batch{Tokens: []int32{1, 5, 6}}, Out: out()},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("2+%d", 2*e), fmt.Sprintf("0+%d", 2*e), fmt.Sprintf("2+%d", e)}
	if !slices.Equal(seen, want) {
		t.Errorf("probe saw %v, want %v", seen, want)
	}
}

// TestNoLogits: a batch that leaves the logits out fills the cache as one
// that asks for them, bit for bit, alone or beside a part that asks, and
// writes nothing.
func TestNoLogits(t *testing.T) {
	frag, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	vocab := frag.Config.Vocab
	prompt, next := []int32{1, 415, 2936, 9060, 285}, []int32{1142, 304}
	continued := func(skip bool, beside bool) []float32 {
		t.Helper()
		s, _ := frag.NewSession(16)
		defer s.Close()
		parts := []engine.Part{{Session: s, Batch: engine.Batch{Tokens: prompt, NoLogits: skip}}}
		if !skip {
			parts[0].Out = make([]float32, vocab)
		}
		if beside {
			other, _ := frag.NewSession(16)
			defer other.Close()
			parts = append(parts, engine.Part{Session: other, Batch: engine.Batch{Tokens: next}, Out: make([]float32, vocab)})
		}
		if err := frag.ForwardMany(parts); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, vocab)
		if err := frag.Forward(out, s, engine.Batch{Tokens: next}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := continued(false, false)
	for _, beside := range []bool{false, true} {
		if got := continued(true, beside); !slices.Equal(got, want) {
			t.Errorf("beside another part %v: the logits after a NoLogits prompt differ", beside)
		}
	}
	s, _ := frag.NewSession(16)
	defer s.Close()
	if err := frag.Forward(nil, s, engine.Batch{Tokens: prompt, NoLogits: true, AllLogits: true}); !errors.Is(err, engine.ErrBadInput) {
		t.Errorf("NoLogits with AllLogits: %v, want ErrBadInput", err)
	}
}
