package cpu

import (
	"math"

	"strata/engine"
)

// Attention appends k and v to the cache, then computes causal grouped-
// query attention for each (query row, head) pair in parallel. Scores and
// the softmax use float64 sums; the weighted sum of values runs over
// positions in order, so the result does not depend on the batch.
func (b *Backend) Attention(out, q, k, v engine.Tensor, c engine.Cache, layer, pos, n int, a *engine.AttentionShape) {
	b.WriteCache(k, v, c, layer, pos, n)
	kc, vc := c.(*cache).at(layer)
	width := c.(*cache).width
	t := &b.attention
	t.out, t.q, t.k, t.v, t.width, t.pos, t.a = out.(*tensor), q.(*tensor), kc, vc, width, pos, a
	pairs := n * a.Heads
	b.pool.Run(t, pairs, grainFor(pairs, b.pool.Workers()))
}

// WriteCache stores rows [0, n) of k and v at positions [pos, pos+n) of
// layer's cache.
func (b *Backend) WriteCache(k, v engine.Tensor, c engine.Cache, layer, pos, n int) {
	kc, vc := c.(*cache).at(layer)
	width := c.(*cache).width
	copy(kc[pos*width:(pos+n)*width], k.(*tensor).row(0, n))
	copy(vc[pos*width:(pos+n)*width], v.(*tensor).row(0, n))
}

var _ engine.CacheWriter = (*Backend)(nil)

type attentionTask struct {
	b      *Backend
	out, q *tensor
	k, v   []float32
	width  int
	pos    int
	a      *engine.AttentionShape
}

func (t *attentionTask) Do(worker, lo, hi int) {
	a := t.a
	hd := a.HeadDim
	group := a.Heads / a.KVHeads
	for idx := lo; idx < hi; idx++ {
		j, h := idx/a.Heads, idx%a.Heads
		kvOff := (h / group) * hd
		q := t.q.row(j, 1)[h*hd : (h+1)*hd]
		o := t.out.row(j, 1)[h*hd : (h+1)*hd]
		positions := t.pos + j + 1
		scores := t.b.scratch[worker][:positions]
		t.b.dotRows(scores, t.k[kvOff:], t.width, q)
		best := float32(math.Inf(-1))
		for p, s := range scores {
			s *= a.Scale
			scores[p] = s
			best = max(best, s)
		}
		sum := t.b.softmaxExp(scores, best)
		inv := float32(1 / sum)
		for p, e := range scores {
			scores[p] = e * inv
		}
		clear(o)
		t.b.axpyRows(o, t.v[kvOff:], t.width, scores)
	}
}
