package testmodel

import (
	"math"
	"slices"
	"strconv"

	"strata/engine"
	"strata/format"
	"strata/gguf"
)

// Exact is a float64 forward pass written from the llama equations, on
// weights dequantized once: the reference for models of any shape. It
// shares no code with the engine's forward pass.
type Exact struct {
	c       engine.Config
	w       map[string][]float64 // row-major, rows × cols
	freqs   []float64
	kc, vc  [][][]float64 // [layer][pos][kv width]
	normEps float64
}

// NewExact dequantizes the model in f to float64.
func NewExact(f *gguf.File) (*Exact, error) {
	c, err := engine.ConfigFrom(f)
	if err != nil {
		return nil, err
	}
	m := &Exact{c: c, w: map[string][]float64{}, kc: make([][][]float64, c.Layers),
		vc: make([][][]float64, c.Layers), normEps: float64(c.NormEps)}
	var factors []float32
	for _, ti := range f.Tensors {
		v32 := make([]float32, ti.Elements())
		if err := format.Dequantize(v32, f.TensorData(&ti), ti.Type); err != nil {
			return nil, err
		}
		v := make([]float64, len(v32))
		for i, x := range v32 {
			v[i] = float64(x)
		}
		m.w[ti.Name] = v
		if ti.Name == "rope_freqs.weight" {
			factors = v32
		}
	}
	for i := range c.RopeDims / 2 {
		m.freqs = append(m.freqs, math.Pow(c.RopeBase, -2*float64(i)/float64(c.RopeDims)))
		if factors != nil {
			m.freqs[i] /= float64(factors[i])
		}
	}
	return m, nil
}

// matvec returns W·x for W of len(W)/len(x) rows.
func matvec(w, x []float64) []float64 {
	out := make([]float64, len(w)/len(x))
	for r := range out {
		for i, xi := range x {
			out[r] += w[r*len(x)+i] * xi
		}
	}
	return out
}

func (m *Exact) rmsnorm(x, w []float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	s := 1 / math.Sqrt(ss/float64(len(x))+m.normEps)
	out := make([]float64, len(x))
	for i := range x {
		out[i] = x[i] * s * w[i]
	}
	return out
}

func (m *Exact) rope(x []float64, heads, pos int) {
	hd := m.c.HeadDim
	for h := range heads {
		for i, f := range m.freqs {
			a := float64(pos) * f
			x0, x1 := x[h*hd+2*i], x[h*hd+2*i+1]
			x[h*hd+2*i] = x0*math.Cos(a) - x1*math.Sin(a)
			x[h*hd+2*i+1] = x0*math.Sin(a) + x1*math.Cos(a)
		}
	}
}

// Step feeds one token at the next position and returns the logits.
func (m *Exact) Step(tok int32) []float64 {
	c := &m.c
	e := c.Embedding
	x := slices.Clone(m.w["token_embd.weight"][int(tok)*e : int(tok+1)*e])
	pos := len(m.kc[0])
	hd := c.HeadDim
	for l := range c.Layers {
		p := "blk." + strconv.Itoa(l) + "."
		xb := m.rmsnorm(x, m.w[p+"attn_norm.weight"])
		q := matvec(m.w[p+"attn_q.weight"], xb)
		k := matvec(m.w[p+"attn_k.weight"], xb)
		v := matvec(m.w[p+"attn_v.weight"], xb)
		m.rope(q, c.Heads, pos)
		m.rope(k, c.KVHeads, pos)
		m.kc[l] = append(m.kc[l], k)
		m.vc[l] = append(m.vc[l], v)
		att := make([]float64, c.Heads*hd)
		for h := range c.Heads {
			kvh := h / (c.Heads / c.KVHeads)
			scores := make([]float64, pos+1)
			best := math.Inf(-1)
			for t := range scores {
				for d := range hd {
					scores[t] += q[h*hd+d] * m.kc[l][t][kvh*hd+d]
				}
				scores[t] /= math.Sqrt(float64(hd))
				best = max(best, scores[t])
			}
			var sum float64
			for t := range scores {
				scores[t] = math.Exp(scores[t] - best)
				sum += scores[t]
			}
			for t := range scores {
				for d := range hd {
					att[h*hd+d] += scores[t] / sum * m.vc[l][t][kvh*hd+d]
				}
			}
		}
		for i, o := range matvec(m.w[p+"attn_output.weight"], att) {
			x[i] += o
		}
		xb = m.rmsnorm(x, m.w[p+"ffn_norm.weight"])
		g := matvec(m.w[p+"ffn_gate.weight"], xb)
		u := matvec(m.w[p+"ffn_up.weight"], xb)
		for i := range g {
			g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
		}
		for i, o := range matvec(m.w[p+"ffn_down.weight"], g) {
			x[i] += o
		}
	}
	head := m.w["output.weight"]
	if head == nil {
		head = m.w["token_embd.weight"]
	}
	return matvec(head, m.rmsnorm(x, m.w["output_norm.weight"]))
}
