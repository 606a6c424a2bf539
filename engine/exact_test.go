package engine_test

import (
	"math"
	"slices"
	"strconv"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/engine/testmodel"
	"strata/gguf"
)

// exactModel is a float64 forward pass written from the llama equations,
// on weights dequantized once: the reference for models of any shape.
type exactModel struct {
	c       engine.Config
	w       map[string][]float64 // row-major, rows × cols
	freqs   []float64
	kc, vc  [][][]float64 // [layer][pos][kv width]
	normEps float64
}

func newExactModel(t *testing.T, f *gguf.File) *exactModel {
	c, err := engine.ConfigFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	m := &exactModel{c: c, w: map[string][]float64{}, kc: make([][][]float64, c.Layers),
		vc: make([][][]float64, c.Layers), normEps: float64(c.NormEps)}
	var factors []float32
	for _, ti := range f.Tensors {
		v32 := make([]float32, ti.Elements())
		if err := cpu.Dequantize(v32, f.TensorData(&ti), ti.Type); err != nil {
			t.Fatal(err)
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
	return m
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

func (m *exactModel) rmsnorm(x, w []float64) []float64 {
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

func (m *exactModel) rope(x []float64, heads, pos int) {
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

// step feeds one token at the next position and returns the logits.
func (m *exactModel) step(tok int32) []float64 {
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

// secondShape differs from the tiny model in every way the issue names:
// widths, head count, head size, GQA ratio, layers, tied output, rope base
// (with per-pair factors and partial rotation), and it mixes every tensor
// type the CPU computes.
var secondShape = testmodel.Spec{
	Layers: 3, Embedding: 512, FeedForward: 1280, Heads: 6, KVHeads: 3, HeadDim: 64,
	Vocab: 1000, Context: 512, RopeBase: 10000, RopeDims: 48, RopeFactors: true, Tied: true,
	NormEps: 1e-6, Seed: 42,
	Types: map[string]gguf.TensorType{
		"token_embd": gguf.Q6_K, "attn_q": gguf.Q4_K, "attn_k": gguf.Q5_K, "attn_v": gguf.Q6_K,
		"attn_output": gguf.Q8_0, "ffn_gate": gguf.Q4_0, "ffn_up": gguf.F16, "ffn_down": gguf.BF16,
	},
}

func TestSecondShapeAgainstExact(t *testing.T) {
	data, err := testmodel.Build(secondShape)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	frag, err := engine.NewFragment(f, cpuBackend(t), engine.FragmentOptions{Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	exact := newExactModel(t, f)
	tokens := []int32{1, 999, 0, 500, 17, 17, 17, 256, 3, 800, 42, 7, 7, 650, 12, 999, 100, 1, 2, 3, 4, 5, 6, 7, 8}
	n, vocab := len(tokens), frag.Config.Vocab
	s, _ := frag.NewSession(n)
	got := make([]float32, n*vocab)
	if err := frag.Forward(got, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i, tok := range tokens {
		want := exact.step(tok)
		row := got[i*vocab : (i+1)*vocab]
		var num, den float64
		for j := range want {
			d := float64(row[j]) - want[j]
			num += d * d
			den += want[j] * want[j]
		}
		worst = max(worst, num/den)
		if den/float64(vocab) < 1e-2 {
			t.Fatalf("row %d: logits of mean square %.3g are too flat to test anything", i, den/float64(vocab))
		}
		if !(num/den <= 1e-6) { // NaN fails too
			t.Errorf("row %d: NMSE %.3g > 1e-6", i, num/den)
		}
	}
	t.Logf("worst row NMSE %.3g over %d rows", worst, n)

	// Token by token gives the same bits as the batch.
	s2, _ := frag.NewSession(n)
	one := make([]float32, vocab)
	for i, tok := range tokens {
		if err := frag.Forward(one, s2, engine.Batch{Tokens: []int32{tok}}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one, got[i*vocab:(i+1)*vocab]) {
			t.Fatalf("row %d: token-by-token logits differ from the batch", i)
		}
	}
}
