package engine_test

import (
	"math"
	"testing"

	"strata/cpu"
	"strata/engine"
)

// TestTinyVariantsAndThreads checks that the tiny model's logits are the
// same bits for every kernel variant this machine runs (the pure-Go twins
// included) and any thread count, a prompt in one batch and then tokens
// one at a time.
func TestTinyVariantsAndThreads(t *testing.T) {
	ref := loadReference(t)
	tokens := append(append([]int32{}, ref.Cases[1].PromptTokens...), ref.Cases[1].GreedyTokens[:6]...)
	prompt := len(ref.Cases[1].PromptTokens)
	run := func(o cpu.Options) []float32 {
		b := cpu.New(o)
		defer b.Close()
		frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := frag.NewSession(len(tokens))
		if err != nil {
			t.Fatal(err)
		}
		logits := make([]float32, len(tokens)*ref.NVocab)
		if err := frag.Forward(logits[:prompt*ref.NVocab], s, engine.Batch{Tokens: tokens[:prompt], AllLogits: true}); err != nil {
			t.Fatal(err)
		}
		for i := prompt; i < len(tokens); i++ {
			if err := s.Eval(logits[i*ref.NVocab:(i+1)*ref.NVocab], tokens[i:i+1]); err != nil {
				t.Fatal(err)
			}
		}
		return logits
	}
	want := run(cpu.Options{Kernels: "generic", Threads: 1})
	for _, o := range []cpu.Options{
		{Kernels: "generic", Threads: 2},
		{Kernels: "avx2", Threads: 1}, {Kernels: "avx2", Threads: 2},
		{Kernels: "avx512", Threads: 1}, {Kernels: "avx512", Threads: 2}, {Kernels: "avx512", Threads: 3},
	} {
		if o.Validate() != nil {
			t.Logf("%s: not on this machine", o.Kernels)
			continue
		}
		got := run(o)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s kernels, %d threads: logit %d of position %d is %v, generic on 1 thread %v",
					o.Kernels, o.Threads, i%ref.NVocab, i/ref.NVocab, got[i], want[i])
			}
		}
	}
}
