package engine_test

import (
	"slices"
	"testing"

	"strata/engine"
	"strata/engine/testmodel"
	"strata/gguf"
)

func TestSecondShapeAgainstExact(t *testing.T) {
	data, err := testmodel.Build(testmodel.SecondShape)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	frag, err := engine.NewFragment(f, cpuBackend(t), engine.FragmentOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	exact, err := testmodel.NewExact(f)
	if err != nil {
		t.Fatal(err)
	}
	tokens := []int32{1, 999, 0, 500, 17, 17, 17, 256, 3, 800, 42, 7, 7, 650, 12, 999, 100, 1, 2, 3, 4, 5, 6, 7, 8}
	n, vocab := len(tokens), frag.Config.Vocab
	s, _ := frag.NewSession(n)
	got := make([]float32, n*vocab)
	if err := frag.Forward(got, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, tok := range tokens {
		want := exact.Step(tok)
		row := got[i*vocab : (i+1)*vocab]
		var num, den float64
		for j := range want {
			d := float64(row[j]) - want[j]
			num += d * d
			den += want[j] * want[j]
		}
		worst = max(worst, num/den)
		if den/float64(vocab) < 1e-2 {
			t.Fatalf("row %d: logits of mean square %.3g are too flat to test anything", i, den/float64(vocab))
		}
		if !(num/den <= 1e-6) { // NaN fails too
			t.Errorf("row %d: NMSE %.3g > 1e-6", i, num/den)
		}
	}
	t.Logf("worst row NMSE %.3g over %d rows", worst, n)

	// Token by token gives the same bits as the batch.
	s2, _ := frag.NewSession(n)
	one := make([]float32, vocab)
	for i, tok := range tokens {
		if err := frag.Forward(one, s2, engine.Batch{Tokens: []int32{tok}}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one, got[i*vocab:(i+1)*vocab]) {
			t.Fatalf("row %d: token-by-token logits differ from the batch", i)
		}
	}
}
