package cpu

import "strata/engine"

// tileRows weight rows are dequantized together, then each is dotted with
// every row of the batch while they sit in cache.
const tileRows = 4

// MatMul computes out[j] = W · x[j] for j < n. Each element is one Dot of
// a dequantized weight row with an input row, whatever n is.
func (b *Backend) MatMul(out engine.Tensor, w engine.Weight, x engine.Tensor, n int) {
	t := &b.matmul
	t.out, t.w, t.x, t.n = out.(*tensor), w.(*weight), x.(*tensor), n
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
	cols, rows := w.cols, w.rows
	scratch := t.b.scratch[worker]
	for r0 := lo * tileRows; r0 < min(hi*tileRows, rows); r0 += tileRows {
		r1 := min(r0+tileRows, rows)
		tile := scratch[:(r1-r0)*cols]
		w.format.dequantize(tile, w.data[r0*w.rowBytes:r1*w.rowBytes])
		for j := range t.n {
			xj := t.x.data[j*cols : (j+1)*cols]
			o := t.out.data[j*rows : (j+1)*rows]
			for r := r0; r < r1; r++ {
				o[r] = Dot(tile[(r-r0)*cols:(r-r0+1)*cols], xj)
			}
		}
	}
}
