package engine_test

import (
	"context"
	"slices"
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
			if e > 1e-9 {
				t.Errorf("case %d row %d: NMSE %.3g > 1e-9", ci, r, e)
			}
			full++
		}
	}
}

// TestTinyGreedy checks that greedy generation reproduces the exact pass's
// continuation of every reference prompt.
func TestTinyGreedy(t *testing.T) {
	ref := loadReference(t)
	frag, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for ci, c := range ref.Cases {
		s, err := frag.NewSession(256)
		if err != nil {
			t.Fatal(err)
		}
		r, err := engine.Generate(context.Background(), s, c.PromptTokens,
			engine.GenerateOptions{MaxTokens: len(c.GreedyTokens), IgnoreEOS: true},
			func(int32) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Tokens, c.GreedyTokens) {
			t.Errorf("case %d: got %v\nwant %v", ci, r.Tokens, c.GreedyTokens)
		}
	}
}

// TestTinyBatchInvariance checks that a prompt processed as one batch, in
// odd-sized batches, and token by token gives bit-identical logits.
func TestTinyBatchInvariance(t *testing.T) {
	ref := loadReference(t)
	tokens := append(append([]int32{}, ref.Cases[0].PromptTokens...), ref.Cases[0].GreedyTokens...)
	n, vocab := len(tokens), ref.NVocab
	run := func(batch int, step int) []float32 {
		frag, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := frag.NewSession(n)
		out := make([]float32, n*vocab)
		for i := 0; i < n; i += step {
			j := min(i+step, n)
			if err := frag.Forward(out[i*vocab:j*vocab], s, engine.Batch{Tokens: tokens[i:j], AllLogits: true}); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	whole := run(0, n)
	for _, c := range []struct{ batch, step int }{{7, n}, {1, 1}, {0, 5}} {
		got := run(c.batch, c.step)
		for i := range whole {
			if got[i] != whole[i] {
				t.Fatalf("batch %d step %d: row %d logit %d: %v != %v", c.batch, c.step, i/vocab, i%vocab, got[i], whole[i])
			}
		}
	}
}
