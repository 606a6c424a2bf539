//go:build cgo

package gpu

import (
	"fmt"
	"unsafe"

	"strata/engine"
)

// Embed dequantizes the table rows named by tokens. The ids go to the
// dynamic buffer, so one recording serves every token.
func (g *Backend) Embed(out engine.Tensor, table engine.Weight, tokens []int32) {
	o, w := out.(*tensor), table.(*weight)
	off, b := g.dynamic(uint64(4 * len(tokens)))
	copy(unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), len(tokens)), tokens)
	for _, c := range w.chunks {
		g.dispatch("embed_"+w.shader, [3]uint32{uint32(len(tokens)), 1, 1},
			[]uint32{uint32(w.cols), uint32(w.rowBytes), uint32(off / 4), uint32(c.first), uint32(c.rows)},
			1<<2, c.buf, g.q.dyn, o.buf)
	}
}

// RMSNorm normalizes rows, one workgroup each.
func (g *Backend) RMSNorm(out, x engine.Tensor, w engine.Weight, n int, eps float32) {
	o, xs := out.(*tensor), x.(*tensor)
	g.dispatch("rmsnorm", [3]uint32{uint32(n), 1, 1}, []uint32{uint32(xs.cols), f32bits(eps)},
		1<<2, xs.buf, w.(*weight).vector, o.buf)
}

// MatMul multiplies each input row by the weight, one dispatch per chunk.
func (g *Backend) MatMul(out engine.Tensor, w engine.Weight, x engine.Tensor, n int) {
	o, wt, xs := out.(*tensor), w.(*weight), x.(*tensor)
	tpr := g.rowThreads(wt.cols)
	perGroup := int(g.local) / tpr
	shader := "matmul_" + wt.shader
	if tpr > 1 && g.subgroupOps {
		shader = "matmul_sg_" + wt.shader
	}
	for _, c := range wt.chunks {
		wgs := (c.rows + perGroup - 1) / perGroup
		gx := min(wgs, 65535)
		groups := [3]uint32{uint32(gx), uint32((wgs + gx - 1) / gx), 1}
		// Binding 3 is the residual of a fused Add; until then the output.
		g.dispatchLocal(shader, g.local, groups,
			[]uint32{uint32(c.rows), uint32(wt.cols), uint32(n), uint32(wt.rowBytes), uint32(wt.rows), uint32(c.first), uint32(tpr), 0},
			1<<2, c.buf, xs.buf, o.buf, o.buf)
	}
	if len(wt.chunks) == 1 && len(g.q.ops) > 0 && g.q.ops[len(g.q.ops)-1].bufs[2] == o.buf {
		g.q.addable = &g.q.ops[len(g.q.ops)-1]
	}
}

// fuseAdd folds x += y into the epilogue of the matrix product just
// queued, when it wrote y (n rows of x's width) and nothing since the
// last barrier touched x: the same additions, one dispatch and one
// barrier fewer. It reports whether it did.
func (g *Backend) fuseAdd(x, y *tensor, n int) bool {
	q := &g.q
	o := q.addable
	if o == nil || o != &q.ops[len(q.ops)-1] || o.bufs[2] != y.buf || o.push[2] != uint32(n) ||
		o.push[4] != uint32(x.cols) || x.cols != y.cols || x.buf.written == q.epoch || x.buf.read == q.epoch || x.buf == y.buf {
		return false
	}
	o.bufs[3] = x.buf
	o.writes |= 1 << 3
	o.push[7] = 1
	x.buf.written = q.epoch
	q.addable = nil
	return true
}

// RoPE rotates pairs by angles whose cosines and sines the host computes.
func (g *Backend) RoPE(x engine.Tensor, n, pos int, r *engine.Rope) {
	xs := x.(*tensor)
	pairs := r.Dims / 2
	table := g.dynRope(pos, n, r.Freqs)
	g.dispatch("rope", groups1D(uint32(n*r.Heads*pairs), 64),
		[]uint32{uint32(n), uint32(r.Heads), uint32(r.HeadDim), uint32(pairs), table},
		1<<0, xs.buf, g.q.dyn)
}

// Attention stores k and v at pos in the layer's cache, then attends.
func (g *Backend) Attention(out, q, k, v engine.Tensor, c engine.Cache, layer, pos, n int, a *engine.AttentionShape) {
	o, qs, ks, vs, kc := out.(*tensor), q.(*tensor), k.(*tensor), v.(*tensor), c.(*cache)
	if a.HeadDim > 256 {
		g.fail(fmt.Errorf("gpu: heads of %d values (the attention shader takes up to 256)", a.HeadDim))
		return
	}
	p := g.dynPos(pos)
	width := uint32(a.KVHeads * a.HeadDim)
	g.dispatch("kvstore", groups1D(uint32(n)*width, 256), []uint32{uint32(n) * width, p, width},
		1<<2|1<<3, ks.buf, vs.buf, kc.k[layer], kc.v[layer], g.q.dyn)
	g.dispatch("attention", [3]uint32{uint32(a.Heads), uint32(n), 1},
		[]uint32{uint32(a.Heads), uint32(a.KVHeads), uint32(a.HeadDim), f32bits(a.Scale), p},
		1<<3, qs.buf, kc.k[layer], kc.v[layer], o.buf, g.q.dyn)
}

// SwiGLU computes silu(gate) × up element-wise.
func (g *Backend) SwiGLU(out, gate, up engine.Tensor, n int) {
	o, gt, u := out.(*tensor), gate.(*tensor), up.(*tensor)
	count := uint32(n * o.cols)
	g.dispatch("swiglu", groups1D(count, 256), []uint32{count}, 1<<2, gt.buf, u.buf, o.buf)
}

// Add adds y to x element-wise.
func (g *Backend) Add(x, y engine.Tensor, n int) {
	if err := engine.CheckAdd(x, y, n); err != nil {
		g.fail(fmt.Errorf("gpu: %w", err))
		return
	}
	xs, ys := x.(*tensor), y.(*tensor)
	if g.fuseAdd(xs, ys, n) {
		return
	}
	count := uint32(n * xs.cols)
	g.dispatch("add", groups1D(count, 256), []uint32{count}, 1<<0, xs.buf, ys.buf)
}

// rowThreads is how many threads of a matmul workgroup share a weight
// row: enough for its sub-blocks of 32 values, at most the workgroup;
// one on CPU devices (unless a profile says otherwise), where a
// reduction across threads costs more than it saves.
func (g *Backend) rowThreads(cols int) int {
	if !g.gpuRows {
		return 1
	}
	tpr := 1
	for tpr < int(g.local) && tpr < cols/32 {
		tpr *= 2
	}
	return tpr
}
