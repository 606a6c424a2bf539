//go:build cgo

package gpu_test

import (
	"testing"

	"strata/engine"
)

type counter interface {
	Counts() (dispatches, barriers int)
}

// layerCounts are the dispatches and barriers of one decode step per
// layer of the tiny model: the difference between fragments of layers
// [start, 4) and [start+1, 4), each given a hidden state, after a
// prompt of three positions.
func layerCounts(t *testing.T, b engine.Backend, start int) (dispatches, barriers int) {
	t.Helper()
	step := func(start int) (int, int) {
		frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{Start: start})
		if err != nil {
			t.Fatal(err)
		}
		s, err := frag.NewSession(8)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		e := frag.Config.Embedding
		hidden := make([]float32, 3*e)
		for i := range hidden {
			hidden[i] = float32(i%7) / 7
		}
		out := make([]float32, frag.Config.Vocab)
		if err := frag.Forward(out, s, engine.Batch{Hidden: hidden}); err != nil {
			t.Fatal(err)
		}
		if err := frag.Forward(out, s, engine.Batch{Hidden: hidden[:e]}); err != nil {
			t.Fatal(err)
		}
		return b.(counter).Counts()
	}
	d0, b0 := step(start)
	d1, b1 := step(start + 1)
	return d0 - d1, b0 - b1
}

// TestDecodeCounts counts the dispatches and barriers a decode step
// takes per layer, the same for every layer, and holds them to what the
// fused kernels reach.
func TestDecodeCounts(t *testing.T) {
	b := openGPU(t)
	d, bar := layerCounts(t, b, 1)
	d2, bar2 := layerCounts(t, b, 2)
	t.Logf("per layer: %d dispatches, %d barriers", d, bar)
	if d != d2 || bar != bar2 {
		t.Fatalf("layers differ: %d dispatches and %d barriers, then %d and %d", d, bar, d2, bar2)
	}
	const maxDispatches, maxBarriers = 16, 12 // today's, before any fusion
	if d > maxDispatches || bar > maxBarriers {
		t.Errorf("a decode step takes %d dispatches and %d barriers a layer; want at most %d and %d", d, bar, maxDispatches, maxBarriers)
	}
}
