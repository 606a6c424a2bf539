package cpu

import "strata/engine"

// tileRows weight rows are dequantized together, then multiplied with
// every row of the batch while they sit in cache.
const tileRows = 16

// MatMul computes out[j] = W · x[j] for j < n. Each element is computed in
// one order whatever n is, so it has the same bits in any batch:
//
//   - the K formats' products are integer ones (integer.go): each input
//     row is quantized once, then every weight row goes through the
//     format's integer kernel, a tile of rows at a time for a batch;
//   - the other formats' are pairDot over the dequantized weight row
//     (kernel.go): a single input row goes through the format's fused
//     kernel, a batch through dequantized tiles of rows.
func (b *Backend) MatMul(out engine.Tensor, w engine.Weight, x engine.Tensor, n int) {
	t := &b.matmul
	t.out, t.w, t.x, t.n = out.(*tensor), w.(*weight), x.(*tensor), n
	if t.w.integer != nil {
		b.quantizeInputs(t.x, n, t.w.order)
	}
	tiles := (t.w.rows + tileRows - 1) / tileRows
	b.pool.Run(t, tiles, grainFor(tiles, b.pool.Workers()))
	t.out, t.w, t.x = nil, nil, nil
}

// quantizeInputs quantizes the first n rows of x, in order o, into
// b.quant.
func (b *Backend) quantizeInputs(x *tensor, n int, o inputOrder) {
	for len(b.quant) < n {
		b.quant = append(b.quant, quantRow{})
	}
	for j := range n {
		b.quantize(&b.quant[j], x.data[j*x.cols:(j+1)*x.cols], o)
	}
}

type matmulTask struct {
	b      *Backend
	out, x *tensor
	w      *weight
	n      int
}

func (t *matmulTask) Do(worker, lo, hi int) {
	w := t.w
	cols, rows, rb := w.cols, w.rows, w.rowBytes
	r0, r1 := lo*tileRows, min(hi*tileRows, rows)
	if w.integer != nil {
		for a := r0; a < r1; a += tileRows {
			e := min(a+tileRows, r1)
			for j := range t.n {
				w.integer(t.out.data[j*rows+a:j*rows+e], w.data[a*rb:e*rb], rb, &t.b.quant[j])
			}
		}
		return
	}
	scratch := t.b.scratch[worker]
	if t.n == 1 {
		w.kernel(t.out.data[r0:r1], w.data[r0*rb:r1*rb], rb, t.x.data[:cols], scratch)
		return
	}
	for a := r0; a < r1; a += tileRows {
		e := min(a+tileRows, r1)
		tile := scratch[:(e-a)*cols]
		w.dequantize(tile, w.data[a*rb:e*rb])
		t.b.tile(t.out.data[a:], rows, tile, e-a, cols, t.x.data, t.n, &t.b.carried[worker])
	}
}
