package engine

import (
	"fmt"
	"strconv"
	"strings"

	"strata/gguf"
)

// layerWeights are the tensors of one transformer block. Shapes are
// given as rows × cols of the matrix the backend multiplies by; in GGUF
// order (cols first) for a tensor named blk.N.X.weight.
type layerWeights struct {
	attnNorm Weight // Embedding
	q        Weight // QueryWidth × Embedding
	k        Weight // KVWidth × Embedding
	v        Weight // KVWidth × Embedding
	output   Weight // Embedding × QueryWidth
	ffnNorm  Weight // Embedding
	gate     Weight // FeedForward × Embedding
	up       Weight // FeedForward × Embedding
	down     Weight // Embedding × FeedForward
}

// loader loads and shape-checks the tensors of a fragment; without a
// backend it only checks them.
type loader struct {
	f       *gguf.File
	b       Backend
	used    map[string]bool
	weights int64 // bytes loaded

	progress func(done, total int64) // FragmentOptions.Progress
	total    int64                   // the bytes progress counts to
}

// load loads the tensor name, which must have dims cols (× rows, when
// rows > 0).
func (l *loader) load(name string, cols, rows int) (Weight, error) {
	t, ok := l.f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("engine: tensor %q is missing", name)
	}
	want := []uint64{uint64(cols)}
	if rows > 0 {
		want = append(want, uint64(rows))
	}
	if !equalDims(t.Dims, want) {
		return nil, fmt.Errorf("engine: tensor %q has shape %v, want %v", name, t.Dims, want)
	}
	data := l.f.TensorData(t)
	if err := checkFinite(t, data); err != nil {
		return nil, err
	}
	l.used[name] = true
	l.weights += int64(t.Size)
	if l.b == nil {
		return nil, nil // checking only (CheckModel)
	}
	w, err := l.b.LoadWeight(t, data)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if c, ok := l.b.(WeightCopier); ok && c.CopiesWeights() {
		l.f.Evict(t) // checkFinite and the copy read every page
	}
	if l.progress != nil {
		l.progress(min(l.weights, l.total), l.total)
	}
	return w, nil
}

func equalDims(a, b []uint64) bool {
	// Trailing dimensions of 1 do not change a tensor's shape.
	for len(a) > 1 && a[len(a)-1] == 1 {
		a = a[:len(a)-1]
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (l *loader) layer(c *Config, i int) (layerWeights, error) {
	var w layerWeights
	var err error
	p := "blk." + strconv.Itoa(i) + "."
	for _, t := range []struct {
		dst        *Weight
		name       string
		cols, rows int
	}{
		{&w.attnNorm, "attn_norm", c.Embedding, 0},
		{&w.q, "attn_q", c.Embedding, c.QueryWidth()},
		{&w.k, "attn_k", c.Embedding, c.KVWidth()},
		{&w.v, "attn_v", c.Embedding, c.KVWidth()},
		{&w.output, "attn_output", c.QueryWidth(), c.Embedding},
		{&w.ffnNorm, "ffn_norm", c.Embedding, 0},
		{&w.gate, "ffn_gate", c.Embedding, c.FeedForward},
		{&w.up, "ffn_up", c.Embedding, c.FeedForward},
		{&w.down, "ffn_down", c.FeedForward, c.Embedding},
	} {
		if *t.dst, err = l.load(p+t.name+".weight", t.cols, t.rows); err != nil {
			return w, err
		}
	}
	return w, nil
}

// checkUnused refuses tensors the fragment did not load but that belong
// to its layers or its ends: a model with parts the engine would ignore
// is a model the engine does not compute.
func (l *loader) checkUnused(start, end int, first, last bool) error {
	for _, t := range l.f.Tensors {
		if l.used[t.Name] {
			continue
		}
		name := t.Name
		if rest, ok := strings.CutPrefix(name, "blk."); ok {
			n, _, _ := strings.Cut(rest, ".")
			i, err := strconv.Atoi(n)
			if err != nil || (i >= start && i < end) {
				return fmt.Errorf("engine: tensor %q is not part of the llama architecture as strata computes it", name)
			}
			continue
		}
		switch name {
		case "token_embd.weight", "output.weight", "output_norm.weight":
			continue // belongs to the first or last fragment
		case "rope_freqs.weight":
			continue
		}
		return fmt.Errorf("engine: tensor %q is not part of the llama architecture as strata computes it", name)
	}
	return nil
}
