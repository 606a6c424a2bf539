package cpu

import (
	"math"
	"slices"

	"strata/engine"
)

// RMSNorm normalizes each row of x by its root mean square (accumulated
// in float64) and multiplies by the weight vector.
func (b *Backend) RMSNorm(out, x engine.Tensor, w engine.Weight, n int, eps float32) {
	t := &b.norm
	t.out, t.x, t.w, t.eps = out.(*tensor), x.(*tensor), w.(*weight).vector, eps
	b.pool.Run(t, n, grainFor(n, b.pool.Workers()))
}

type normTask struct {
	out, x *tensor
	w      []float32
	eps    float32
}

func (t *normTask) Do(_, lo, hi int) {
	for r := lo; r < hi; r++ {
		x, o := t.x.row(r, 1), t.out.row(r, 1)
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(t.eps)))
		for i, v := range x {
			o[i] = v * scale * t.w[i]
		}
	}
}

// RoPE rotates adjacent pairs of each head by angles computed in float64.
// The angles' sines and cosines depend only on the positions and the
// frequencies, so they are computed once for a pass's positions and
// reused by every layer's queries and keys (ropeAngles).
func (b *Backend) RoPE(x engine.Tensor, n, pos int, r *engine.Rope) {
	t := &b.rope
	t.x, t.pos, t.r = x.(*tensor), pos, r
	t.angles.cover(pos, n, r.Freqs)
	b.pool.Run(t, n, grainFor(n, b.pool.Workers()))
}

// ropeAngles holds, for positions [pos, pos+n) and one set of
// frequencies, the float32 sine and cosine of every position's angles.
type ropeAngles struct {
	pos, n int
	freqs  []float64 // a copy, compared by value
	sc     []float32 // n × len(freqs) × (sine, cosine)
}

// cover makes a hold positions [pos, pos+n) of freqs, computing them
// unless it holds them already.
func (a *ropeAngles) cover(pos, n int, freqs []float64) {
	if slices.Equal(freqs, a.freqs) && pos >= a.pos && pos+n <= a.pos+a.n {
		return
	}
	a.pos, a.n, a.freqs = pos, n, append(a.freqs[:0], freqs...)
	a.sc = grow(a.sc, 2*n*len(freqs))
	for j := range n {
		p := float64(pos + j)
		for i, f := range freqs {
			s64, c64 := math.Sincos(p * f)
			a.sc[2*(j*len(freqs)+i)], a.sc[2*(j*len(freqs)+i)+1] = float32(s64), float32(c64)
		}
	}
}

type ropeTask struct {
	x      *tensor
	pos    int
	r      *engine.Rope
	angles ropeAngles
}

func (t *ropeTask) Do(_, lo, hi int) {
	r, a := t.r, &t.angles
	half := r.Dims / 2
	for j := lo; j < hi; j++ {
		row := t.x.row(j, 1)
		sc := a.sc[2*(t.pos+j-a.pos)*len(a.freqs):]
		for i := range half {
			s, c := sc[2*i], sc[2*i+1]
			for h := range r.Heads {
				v := row[h*r.HeadDim+2*i : h*r.HeadDim+2*i+2]
				x0, x1 := v[0], v[1]
				v[0] = x0*c - x1*s
				v[1] = x0*s + x1*c
			}
		}
	}
}

// SwiGLU computes silu(gate) × up, the exponential in float64 (exp64).
func (b *Backend) SwiGLU(out, gate, up engine.Tensor, n int) {
	t := &b.swiglu
	t.out, t.gate, t.up, t.silu = out.(*tensor), gate.(*tensor), up.(*tensor), b.silu
	b.pool.Run(t, n, grainFor(n, b.pool.Workers()))
}

type swigluTask struct {
	out, gate, up *tensor
	silu          func(out, gate, up []float32)
}

func (t *swigluTask) Do(_, lo, hi int) {
	t.silu(t.out.row(lo, hi-lo), t.gate.row(lo, hi-lo), t.up.row(lo, hi-lo))
}
