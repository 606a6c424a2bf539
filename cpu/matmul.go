package cpu

import "strata/engine"

// tileRows weight rows are dequantized together, then multiplied with
// every row of the batch while they sit in cache.
const tileRows = 16

// MatMul computes out[j] = W · x[j] for j < n. Each element is computed in
// one order whatever n is, so it has the same bits in any batch:
//
//   - the K formats' products are integer ones (integer.go): the input
//     rows are quantized once, then the format's integer kernel decodes
//     each weight super-block once for a tile of them;
//   - the other formats' are pairDot over the dequantized weight row
//     (kernel.go): a single input row goes through the format's fused
//     kernel, a batch through dequantized tiles of rows.
func (b *Backend) MatMul(out engine.Tensor, w engine.Weight, x engine.Tensor, n int) {
	t := &b.matmul
	t.out, t.w, t.x, t.n = out.(*tensor), w.(*weight), x.(*tensor), n
	if t.w.integer != nil {
		b.quantize(&b.quant, t.x.data[:n*t.x.cols], n, t.x.cols)
	}
	tiles := (t.w.rows + tileRows - 1) / tileRows
	b.pool.Run(t, tiles, grainFor(tiles, b.pool.Workers()))
	t.out, t.w, t.x = nil, nil, nil
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
		w.integer(t.out.data[r0:], rows, w.data[r0*rb:r1*rb], r1-r0, rb, &t.b.quant, &t.b.lanes[worker])
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
		w.decode(tile, w.data[a*rb:e*rb])
		t.b.tile(t.out.data[a:], rows, tile, e-a, cols, t.x.data, t.n, &t.b.carried[worker])
	}
}
