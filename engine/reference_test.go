package engine_test

import (
	"testing"

	"strata/engine"
)

// TestTinyLogits checks teacher-forced logits of the tiny model against
// the exact float64 forward pass.
func TestTinyLogits(t *testing.T) {
	ref := loadReference(t)
	exact := loadRows(t, "exact_rows.f32", ref.NVocab)
	llama := loadRows(t, "llama_cpp_rows.f32", ref.NVocab)
	frag, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	full := 0
	for ci, c := range ref.Cases {
		tokens := append(append([]int32{}, c.PromptTokens...), c.GreedyTokens[:len(c.GreedyTokens)-1]...)
		s, err := frag.NewSession(len(tokens))
		if err != nil {
			t.Fatal(err)
		}
		logits := make([]float32, len(tokens)*ref.NVocab)
		if err := frag.Forward(logits, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
			t.Fatal(err)
		}
		row := func(r int) []float32 { return logits[r*ref.NVocab : (r+1)*ref.NVocab] }
		for r, gap := range c.Top2Gap {
			if want := int(c.Top10[r][0][0]); gap > 1e-3 && argmax(row(r)) != want {
				t.Errorf("case %d row %d: argmax %d, exact %d (gap %.4f)", ci, r, argmax(row(r)), want, gap)
			}
		}
		for _, r := range c.FullRows {
			e := nmse(row(r), exact[full])
			l := nmse(llama[full], exact[full])
			t.Logf("case %d row %2d: NMSE %.3g (llama.cpp %.3g)", ci, r, e, l)
			if e > 1e-6 {
				t.Errorf("case %d row %d: NMSE %.3g > 1e-6", ci, r, e)
			}
			full++
		}
	}
}
