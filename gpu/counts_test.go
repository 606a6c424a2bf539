//go:build cgo

package gpu_test

import (
	"slices"
	"testing"

	"strata/engine"
	"strata/gguf"
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
	const maxDispatches, maxBarriers = 14, 10 // 16 and 12 before the residual adds were fused
	if d > maxDispatches || bar > maxBarriers {
		t.Errorf("a decode step takes %d dispatches and %d barriers a layer; want at most %d and %d", d, bar, maxDispatches, maxBarriers)
	}
}

// TestFusedAddBits checks that an Add folded into the epilogue of the
// matrix product before it gives the bits of the Add shader: the same
// work with a Read between them (which submits the product, so nothing
// fuses) must give the same residual and the same product.
func TestFusedAddBits(t *testing.T) {
	p := newPair(t)
	const rows, cols, n = 256, 768, 3
	_, w := p.weights(gguf.Q4_K, rows, cols)
	_, x, _ := p.tensors(n, cols)
	_, _, start := p.tensors(n, rows)
	var sums, products [2][]float32
	for i, separate := range []bool{false, true} {
		_, y, _ := p.tensors(n, rows)
		_, res, _ := p.tensors(n, rows)
		if err := p.gpu.Write(res, start); err != nil {
			t.Fatal(err)
		}
		// Submit the write: an Add fuses only into a product after the
		// last writer of its residual.
		if err := p.gpu.Read(make([]float32, rows), res, 0, 1); err != nil {
			t.Fatal(err)
		}
		p.gpu.MatMul(y, w, x, n)
		if separate {
			if err := p.gpu.Read(make([]float32, rows), y, 0, 1); err != nil {
				t.Fatal(err)
			}
		}
		p.gpu.Add(res, y, n)
		sums[i], products[i] = make([]float32, n*rows), make([]float32, n*rows)
		if err := p.gpu.Read(sums[i], res, 0, n); err != nil {
			t.Fatal(err)
		}
		if d, _ := p.gpu.(counter).Counts(); !separate && d != 1 {
			t.Errorf("the product and its Add took %d dispatches, want 1 (fused)", d)
		}
		if err := p.gpu.Read(products[i], y, 0, n); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(sums[0], sums[1]) || !slices.Equal(products[0], products[1]) {
		t.Error("the fused Add gives other bits than the Add shader")
	}
	if slices.Equal(sums[0], start) {
		t.Error("the fused Add added nothing")
	}

}
