package cpu

import (
	"math"
	"testing"

	"strata/engine"
	"strata/gguf"
)

// nmse is Σ(got − want)² / Σ want².
func nmse(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	return num / den
}

func checkNMSE(t *testing.T, what string, got []float32, want []float64, limit float64) {
	t.Helper()
	if e := nmse(got, want); !(e <= limit) {
		t.Errorf("%s: NMSE %.3g > %.1g", what, e, limit)
	}
}

func readAll(b *Backend, x engine.Tensor) []float32 {
	out := make([]float32, x.Rows()*x.Cols())
	b.Read(out, x, 0, x.Rows())
	return out
}

func TestRMSNorm(t *testing.T) {
	rng := newRNG(t)
	b := New(Options{Threads: 2})
	defer b.Close()
	const n, cols = 9, 384
	x, xv := randomTensor(t, b, n, cols, rng)
	w, wdata := weightOf(t, b, gguf.F32, 1, cols, rng)
	out, _ := b.NewTensor(n, cols)
	b.RMSNorm(out, x, w, n, 1e-5)
	want := make([]float64, n*cols)
	for r := range n {
		var ss float64
		for i := range cols {
			ss += float64(xv[r*cols+i]) * float64(xv[r*cols+i])
		}
		s := 1 / math.Sqrt(ss/cols+1e-5)
		for i := range cols {
			want[r*cols+i] = float64(xv[r*cols+i]) * s * refElement(gguf.F32, wdata, i)
		}
	}
	checkNMSE(t, "rmsnorm", readAll(b, out), want, 1e-12)
}

func TestRoPE(t *testing.T) {
	rng := newRNG(t)
	b := New(Options{Threads: 2})
	defer b.Close()
	const n, heads, hd, dims, pos = 6, 3, 64, 48, 1000
	r := &engine.Rope{HeadDim: hd, Heads: heads, Dims: dims, Freqs: make([]float64, dims/2)}
	for i := range r.Freqs {
		r.Freqs[i] = math.Pow(1e6, -2*float64(i)/dims) / (1 + rng.Float64())
	}
	x, xv := randomTensor(t, b, n, heads*hd, rng)
	b.RoPE(x, n, pos, r)
	want := make([]float64, len(xv))
	for i := range xv {
		want[i] = float64(xv[i])
	}
	for j := range n {
		for h := range heads {
			for i := range dims / 2 {
				a := float64(pos+j) * r.Freqs[i]
				k := j*heads*hd + h*hd + 2*i
				x0, x1 := want[k], want[k+1]
				want[k], want[k+1] = x0*math.Cos(a)-x1*math.Sin(a), x0*math.Sin(a)+x1*math.Cos(a)
			}
		}
	}
	checkNMSE(t, "rope", readAll(b, x), want, 1e-12)
}

func TestSwiGLU(t *testing.T) {
	rng := newRNG(t)
	b := New(Options{Threads: 2})
	defer b.Close()
	const n, cols = 5, 700
	g, gv := randomTensor(t, b, n, cols, rng)
	u, uv := randomTensor(t, b, n, cols, rng)
	out, _ := b.NewTensor(n, cols)
	b.SwiGLU(out, g, u, n)
	want := make([]float64, n*cols)
	for i := range want {
		x := float64(gv[i])
		want[i] = x / (1 + math.Exp(-x)) * float64(uv[i])
	}
	checkNMSE(t, "swiglu", readAll(b, out), want, 1e-12)
}

func TestAttention(t *testing.T) {
	rng := newRNG(t)
	b := New(Options{Threads: 3})
	defer b.Close()
	a := &engine.AttentionShape{Heads: 8, KVHeads: 2, HeadDim: 32, Scale: 1 / float32(math.Sqrt(32))}
	const layers, ctx = 2, 40
	c, _ := b.NewCache(layers, ctx, a.KVHeads*a.HeadDim)
	qw, kw := a.Heads*a.HeadDim, a.KVHeads*a.HeadDim
	var keys, values [][]float32 // all positions of layer 1
	// Fill positions in three batches of uneven size, checking each.
	for _, n := range []int{7, 1, 12} {
		pos := len(keys)
		q, qv := randomTensor(t, b, n, qw, rng)
		k, kv := randomTensor(t, b, n, kw, rng)
		v, vv := randomTensor(t, b, n, kw, rng)
		for j := range n {
			keys = append(keys, kv[j*kw:(j+1)*kw])
			values = append(values, vv[j*kw:(j+1)*kw])
		}
		out, _ := b.NewTensor(n, qw)
		b.Attention(out, q, k, v, c, 1, pos, n, a)
		want := make([]float64, n*qw)
		for j := range n {
			for h := range a.Heads {
				kvh := h / (a.Heads / a.KVHeads)
				qh := qv[j*qw+h*a.HeadDim : j*qw+(h+1)*a.HeadDim]
				scores := make([]float64, pos+j+1)
				var sum float64
				for p := range scores {
					var s float64
					for d := range a.HeadDim {
						s += float64(qh[d]) * float64(keys[p][kvh*a.HeadDim+d])
					}
					scores[p] = math.Exp(s * float64(a.Scale))
					sum += scores[p]
				}
				for p := range scores {
					for d := range a.HeadDim {
						want[j*qw+h*a.HeadDim+d] += scores[p] / sum * float64(values[p][kvh*a.HeadDim+d])
					}
				}
			}
		}
		checkNMSE(t, "attention", readAll(b, out), want, 1e-10)
	}
}

func TestEmbed(t *testing.T) {
	rng := newRNG(t)
	b := New(Options{Threads: 1})
	defer b.Close()
	const vocab, cols = 50, 256
	w, data := weightOf(t, b, gguf.Q6_K, vocab, cols, rng)
	tokens := []int32{3, 49, 0, 3}
	out, _ := b.NewTensor(len(tokens), cols)
	b.Embed(out, w, tokens)
	want := make([]float64, len(tokens)*cols)
	rb := gguf.Q6_K.RowSize(cols)
	for j, tok := range tokens {
		for i := range cols {
			want[j*cols+i] = refElement(gguf.Q6_K, data[int(tok)*rb:int(tok+1)*rb], i)
		}
	}
	checkNMSE(t, "embed", readAll(b, out), want, 1e-12)
}
