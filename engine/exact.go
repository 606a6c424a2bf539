package engine

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"

	"strata/format"
	"strata/gguf"
)

// Exact is the float64 forward pass, the project's ground truth: the llama
// equations on the weights exactly as format.Dequantize gives them, every
// product and sum in float64. It shares no code with Fragment's forward
// pass beyond the configuration. Weights are dequantized a row at a time
// as they are used, so it holds no more than its activations and KV
// cache: a 24B model needs no more memory than a 1B one, only time.
type Exact struct {
	c       Config
	tensors map[string]exactTensor
	freqs   []float64
	kc, vc  [][][]float64 // [layer][pos][KV width]
	pos     int
}

type exactTensor struct {
	file *gguf.File
	info *gguf.TensorInfo
	data []byte
}

// NewExact reads the model from files: one GGUF, or the fragments of a
// split, which together hold every tensor.
func NewExact(files ...*gguf.File) (*Exact, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("engine: exact pass: no model file")
	}
	c, err := ConfigFrom(files[0])
	if err != nil {
		return nil, err
	}
	m := &Exact{c: c, tensors: map[string]exactTensor{}, kc: make([][][]float64, c.Layers), vc: make([][][]float64, c.Layers)}
	for _, f := range files {
		for i := range f.Tensors {
			ti := &f.Tensors[i]
			if _, ok := format.Dequantizer(ti.Type); !ok {
				return nil, fmt.Errorf("engine: exact pass: tensor %s: %v has no dequantizer", ti.Name, ti.Type)
			}
			m.tensors[ti.Name] = exactTensor{f, ti, f.TensorData(ti)}
		}
	}
	factors, err := m.vector("rope_freqs.weight", c.RopeDims/2, true)
	if err != nil {
		return nil, err
	}
	for i := range c.RopeDims / 2 {
		f := math.Pow(c.RopeBase, -2*float64(i)/float64(c.RopeDims)) / c.RopeScale
		if factors != nil {
			f /= factors[i]
		}
		m.freqs = append(m.freqs, f)
	}
	return m, nil
}

// Config is the model's configuration.
func (m *Exact) Config() Config { return m.c }

// Pos is the number of positions the pass holds.
func (m *Exact) Pos() int { return m.pos }

// Step feeds one token at the next position and returns its logits.
func (m *Exact) Step(tok int32) ([]float64, error) {
	logits, err := m.Forward([]int32{tok}, nil)
	if err != nil {
		return nil, err
	}
	return logits[0], nil
}

// Forward runs tokens through every layer at the next positions and
// returns the logits of each ([position][vocabulary]). observe, if set,
// sees every position's hidden state ([position][embedding]) after each
// layer's attention and after its feed-forward block.
func (m *Exact) Forward(tokens []int32, observe func(layer int, stage Stage, hidden [][]float64)) ([][]float64, error) {
	c := &m.c
	x := make([][]float64, len(tokens)) // [position][embedding]
	for i, tok := range tokens {
		if tok < 0 || int(tok) >= c.Vocab {
			return nil, fmt.Errorf("engine: exact pass: %w: token %d is outside the vocabulary of %d", ErrBadInput, tok, c.Vocab)
		}
		row, err := m.row("token_embd.weight", int(tok), c.Embedding)
		if err != nil {
			return nil, err
		}
		x[i] = row
	}
	for l := range c.Layers {
		if err := m.layer(x, l, observe); err != nil {
			return nil, err
		}
	}
	norm, err := m.vector("output_norm.weight", c.Embedding, false)
	if err != nil {
		return nil, err
	}
	head := "output.weight"
	if _, ok := m.tensors[head]; !ok {
		head = "token_embd.weight"
	}
	m.pos += len(tokens)
	return m.matmul(head, m.rmsnorm(x, norm), c.Vocab)
}

// layer runs block l on x, the hidden states of positions m.pos on.
func (m *Exact) layer(x [][]float64, l int, observe func(int, Stage, [][]float64)) error {
	c := &m.c
	p := "blk." + strconv.Itoa(l) + "."
	attnNorm, err := m.vector(p+"attn_norm.weight", c.Embedding, false)
	if err != nil {
		return err
	}
	xb := m.rmsnorm(x, attnNorm)
	q, err := m.matmul(p+"attn_q.weight", xb, c.QueryWidth())
	if err != nil {
		return err
	}
	k, err := m.matmul(p+"attn_k.weight", xb, c.KVWidth())
	if err != nil {
		return err
	}
	v, err := m.matmul(p+"attn_v.weight", xb, c.KVWidth())
	if err != nil {
		return err
	}
	for i := range x {
		m.rope(q[i], c.Heads, m.pos+i)
		m.rope(k[i], c.KVHeads, m.pos+i)
	}
	m.kc[l] = append(m.kc[l], k...)
	m.vc[l] = append(m.vc[l], v...)
	att := make([][]float64, len(x)) // [position][query width]
	for i := range x {
		att[i] = m.attention(q[i], m.kc[l][:m.pos+i+1], m.vc[l][:m.pos+i+1])
	}
	o, err := m.matmul(p+"attn_output.weight", att, c.Embedding)
	if err != nil {
		return err
	}
	add(x, o)
	if observe != nil {
		observe(l, AfterAttention, x)
	}
	ffnNorm, err := m.vector(p+"ffn_norm.weight", c.Embedding, false)
	if err != nil {
		return err
	}
	xb = m.rmsnorm(x, ffnNorm)
	g, err := m.matmul(p+"ffn_gate.weight", xb, c.FeedForward)
	if err != nil {
		return err
	}
	u, err := m.matmul(p+"ffn_up.weight", xb, c.FeedForward)
	if err != nil {
		return err
	}
	for i := range g {
		for j, gj := range g[i] {
			g[i][j] = gj / (1 + math.Exp(-gj)) * u[i][j]
		}
	}
	d, err := m.matmul(p+"ffn_down.weight", g, c.Embedding)
	if err != nil {
		return err
	}
	add(x, d)
	if observe != nil {
		observe(l, AfterFeedForward, x)
	}
	return nil
}

// attention is softmax(q·kᵀ/√d)·v for every head of one position.
func (m *Exact) attention(q []float64, keys, values [][]float64) []float64 {
	c := &m.c
	hd := c.HeadDim
	out := make([]float64, c.Heads*hd)
	scores := make([]float64, len(keys))
	for h := range c.Heads {
		kvh := h / (c.Heads / c.KVHeads)
		best := math.Inf(-1)
		for t, k := range keys {
			var s float64
			for d := range hd {
				s += q[h*hd+d] * k[kvh*hd+d]
			}
			scores[t] = s / math.Sqrt(float64(hd))
			best = max(best, scores[t])
		}
		var sum float64
		for t := range scores {
			scores[t] = math.Exp(scores[t] - best)
			sum += scores[t]
		}
		for t, v := range values {
			w := scores[t] / sum
			for d := range hd {
				out[h*hd+d] += w * v[kvh*hd+d]
			}
		}
	}
	return out
}

func (m *Exact) rmsnorm(x [][]float64, w []float64) [][]float64 {
	out := make([][]float64, len(x))
	for i, xi := range x {
		var ss float64
		for _, v := range xi {
			ss += v * v
		}
		s := 1 / math.Sqrt(ss/float64(len(xi))+float64(m.c.NormEps))
		out[i] = make([]float64, len(xi))
		for j := range xi {
			out[i][j] = xi[j] * s * w[j]
		}
	}
	return out
}

// rope rotates each head's pairs (2i, 2i+1) by pos × freqs[i].
func (m *Exact) rope(x []float64, heads, pos int) {
	hd := m.c.HeadDim
	for h := range heads {
		for i, f := range m.freqs {
			sin, cos := math.Sincos(float64(pos) * f)
			x0, x1 := x[h*hd+2*i], x[h*hd+2*i+1]
			x[h*hd+2*i] = x0*cos - x1*sin
			x[h*hd+2*i+1] = x0*sin + x1*cos
		}
	}
}

func add(x, y [][]float64) {
	for i := range x {
		for j := range x[i] {
			x[i][j] += y[i][j]
		}
	}
}

// tensor finds a tensor of the given row width and number of rows.
func (m *Exact) tensor(name string, cols, rows int) (exactTensor, error) {
	t, ok := m.tensors[name]
	switch {
	case !ok:
		return t, fmt.Errorf("engine: exact pass: no tensor %s", name)
	case len(t.info.Dims) == 0 || t.info.Dims[0] != uint64(cols) || t.info.Elements() != uint64(cols)*uint64(rows):
		return t, fmt.Errorf("engine: exact pass: tensor %s is %v, want %d × %d", name, t.info.Dims, rows, cols)
	}
	return t, nil
}

// row dequantizes row r of a tensor of rows of cols values.
func (m *Exact) row(name string, r, cols int) ([]float64, error) {
	t, ok := m.tensors[name]
	if !ok || len(t.info.Dims) == 0 || t.info.Dims[0] != uint64(cols) || uint64(r) >= t.info.Elements()/uint64(cols) {
		return nil, fmt.Errorf("engine: exact pass: no row %d of %d values in %s", r, cols, name)
	}
	size := t.info.Type.RowSize(cols)
	v32 := make([]float32, cols)
	if err := format.Dequantize(v32, t.data[r*size:(r+1)*size], t.info.Type); err != nil {
		return nil, err
	}
	out := make([]float64, cols)
	for i, v := range v32 {
		out[i] = float64(v)
	}
	return out, nil
}

// vector reads a one-row tensor of n values; optional ones may be absent.
func (m *Exact) vector(name string, n int, optional bool) ([]float64, error) {
	if _, ok := m.tensors[name]; !ok && optional {
		return nil, nil
	}
	if _, err := m.tensor(name, n, 1); err != nil {
		return nil, err
	}
	return m.row(name, 0, n)
}

// matmul returns W·x for every position of x, W being the tensor name of
// rows rows; each row is dequantized once, and the rows are shared among
// the CPUs.
func (m *Exact) matmul(name string, x [][]float64, rows int) ([][]float64, error) {
	cols := len(x[0])
	t, err := m.tensor(name, cols, rows)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(x))
	for i := range out {
		out[i] = make([]float64, rows)
	}
	size := t.info.Type.RowSize(cols)
	workers := min(runtime.GOMAXPROCS(0), rows)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			v32 := make([]float32, cols)
			for r := w * rows / workers; r < (w+1)*rows/workers; r++ {
				if err := format.Dequantize(v32, t.data[r*size:(r+1)*size], t.info.Type); err != nil {
					errs[w] = err
					return
				}
				for i, xi := range x {
					var s float64
					for j, v := range v32 {
						s += float64(v) * xi[j]
					}
					out[i][r] = s
				}
			}
		})
	}
	wg.Wait()
	// The pass reads each matrix once for all its positions: its pages
	// leave the process now (a later pass faults them back from the page
	// cache), so that the pass holds about one matrix of a memory-mapped
	// model at a time, not every one it has read.
	t.file.Evict(t.info)
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("engine: exact pass: %s: %w", name, err)
		}
	}
	return out, nil
}
