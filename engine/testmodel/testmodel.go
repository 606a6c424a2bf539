// Package testmodel writes small llama-family GGUF models with random
// weights, of any shape and any mix of tensor types, for tests.
package testmodel

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"strata/gguf"
	"strata/synthetic"
)

// Spec is the shape of a model. Types maps a tensor role ("token_embd",
// "output", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate",
// "ffn_up", "ffn_down") to its type; roles not named are Q4_K. Norms are
// F32.
type Spec struct {
	Layers      int
	Embedding   int
	FeedForward int
	Heads       int
	KVHeads     int
	HeadDim     int // written as key_length and value_length
	Vocab       int
	Context     int
	RopeBase    float64
	RopeDims    int  // 0: HeadDim
	RopeFactors bool // write a rope_freqs tensor
	Tied        bool // no output.weight: the head is token_embd
	NormEps     float32
	Types       map[string]gguf.TensorType
	// TypeOf, if set, chooses the type of a layer's tensor (layer −1 for
	// the others) before Types does; ok false defers to Types.
	TypeOf func(role string, layer int) (t gguf.TensorType, ok bool)
	// RepeatRows, above 1, makes the head's rows come in runs of this
	// many identical ones (row r copies row r − r mod RepeatRows), so
	// that those tokens' logits tie exactly. With Tied the runs are in
	// token_embd, whose tokens then also embed alike.
	RepeatRows int
	// Metadata is written after the model's own keys (a tokenizer, say).
	Metadata []gguf.KV
	Seed     uint64
}

// Build returns the GGUF file of a model with random weights.
func Build(s Spec) ([]byte, error) {
	var buf bytes.Buffer
	if err := Write(&buf, s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes the GGUF file of a model with random weights to out,
// generating one tensor at a time, so that a model of any size needs the
// memory of its largest tensor.
func Write(out io.Writer, s Spec) error {
	rng := rand.New(rand.NewPCG(s.Seed, 0x7e57))
	w := &gguf.Writer{}
	var err error
	set := func(k string, v any) {
		if err == nil {
			err = w.Set(k, v)
		}
	}
	set("general.architecture", "llama")
	set("general.name", "testmodel")
	set("llama.block_count", uint32(s.Layers))
	set("llama.context_length", uint32(s.Context))
	set("llama.embedding_length", uint32(s.Embedding))
	set("llama.feed_forward_length", uint32(s.FeedForward))
	set("llama.attention.head_count", uint32(s.Heads))
	set("llama.attention.head_count_kv", uint32(s.KVHeads))
	set("llama.attention.key_length", uint32(s.HeadDim))
	set("llama.attention.value_length", uint32(s.HeadDim))
	set("llama.attention.layer_norm_rms_epsilon", s.NormEps)
	set("llama.rope.freq_base", float32(s.RopeBase))
	ropeDims := s.RopeDims
	if ropeDims == 0 {
		ropeDims = s.HeadDim
	}
	set("llama.rope.dimension_count", uint32(ropeDims))
	for _, kv := range s.Metadata {
		set(kv.Key, kv.Value)
	}

	// Tensors are generated as WriteTo reaches them, in the order added.
	add := func(name, role string, layer, cols, rows int) {
		if err != nil {
			return
		}
		typ := gguf.Q4_K
		if t, ok := s.Types[role]; ok {
			typ = t
		}
		if s.TypeOf != nil {
			if t, ok := s.TypeOf(role, layer); ok {
				typ = t
			}
		}
		if role == "norm" {
			typ = gguf.F32
		}
		dims := []uint64{uint64(cols)}
		if rows > 0 {
			dims = append(dims, uint64(rows))
		}
		size := int64(typ.RowSize(cols)) * int64(max(rows, 1))
		head := role == "output" || role == "token_embd" && s.Tied
		err = w.AddTensorReader(name, typ, dims, size, &lazyTensor{gen: func() ([]byte, error) {
			if role == "norm" {
				return synthetic.Norms(rng, typ, cols)
			}
			data, err := synthetic.Weights(rng, typ, cols, max(rows, 1))
			if err == nil && head {
				repeatRows(data, typ.RowSize(cols), s.RepeatRows)
			}
			return data, err
		}})
	}
	qw, kvw := s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
	add("token_embd.weight", "token_embd", -1, s.Embedding, s.Vocab)
	for i := range s.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		add(p+"attn_norm.weight", "norm", i, s.Embedding, 0)
		add(p+"attn_q.weight", "attn_q", i, s.Embedding, qw)
		add(p+"attn_k.weight", "attn_k", i, s.Embedding, kvw)
		add(p+"attn_v.weight", "attn_v", i, s.Embedding, kvw)
		add(p+"attn_output.weight", "attn_output", i, qw, s.Embedding)
		add(p+"ffn_norm.weight", "norm", i, s.Embedding, 0)
		add(p+"ffn_gate.weight", "ffn_gate", i, s.Embedding, s.FeedForward)
		add(p+"ffn_up.weight", "ffn_up", i, s.Embedding, s.FeedForward)
		add(p+"ffn_down.weight", "ffn_down", i, s.FeedForward, s.Embedding)
	}
	add("output_norm.weight", "norm", -1, s.Embedding, 0)
	if !s.Tied {
		add("output.weight", "output", -1, s.Embedding, s.Vocab)
	}
	if s.RopeFactors && err == nil {
		err = w.AddTensorReader("rope_freqs.weight", gguf.F32, []uint64{uint64(ropeDims / 2)}, int64(ropeDims/2*4),
			&lazyTensor{gen: func() ([]byte, error) {
				f := make([]byte, 0, ropeDims/2*4)
				for range ropeDims / 2 {
					f = binary.LittleEndian.AppendUint32(f, math.Float32bits(float32(1+3*rng.Float64())))
				}
				return f, nil
			}})
	}
	if err != nil {
		return err
	}
	_, err = w.WriteTo(out)
	return err
}

// repeatRows copies the first row of each run of n rows of data onto the
// others; n of 1 or less leaves data alone.
func repeatRows(data []byte, rowSize, n int) {
	if n <= 1 {
		return
	}
	for r := 0; r*rowSize < len(data); r++ {
		if first := r - r%n; first != r {
			copy(data[r*rowSize:(r+1)*rowSize], data[first*rowSize:(first+1)*rowSize])
		}
	}
}

// A lazyTensor generates its bytes at the first Read and lets them go
// once read.
type lazyTensor struct {
	gen  func() ([]byte, error)
	data []byte
}

func (l *lazyTensor) Read(p []byte) (int, error) {
	if l.gen != nil {
		d, err := l.gen()
		if err != nil {
			return 0, err
		}
		l.data, l.gen = d, nil
	}
	if len(l.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, l.data)
	l.data = l.data[n:]
	if len(l.data) == 0 {
		l.data = nil
	}
	return n, nil
}

// SecondShape differs from the tiny model in every way the issue names:
// widths, head count, head size, GQA ratio, layers, tied output, rope base
// (with per-pair factors and partial rotation), and it mixes every tensor
// type the CPU computes: layer 0 and the embedding take Types, layers 1
// and 2 the other types, in two orders (attn_output's rows of 384 values
// take only the types of 32-value blocks).
var SecondShape = Spec{
	Layers: 3, Embedding: 512, FeedForward: 1280, Heads: 6, KVHeads: 3, HeadDim: 64,
	Vocab: 1000, Context: 512, RopeBase: 10000, RopeDims: 48, RopeFactors: true, Tied: true,
	NormEps: 1e-6, Seed: 42,
	Types: map[string]gguf.TensorType{
		"token_embd": gguf.Q6_K, "attn_q": gguf.Q4_K, "attn_k": gguf.Q5_K, "attn_v": gguf.Q6_K,
		"attn_output": gguf.Q8_0, "ffn_gate": gguf.Q4_0, "ffn_up": gguf.F16, "ffn_down": gguf.BF16,
	},
	TypeOf: func(role string, layer int) (gguf.TensorType, bool) {
		t, ok := secondShapeLayers[layer][role]
		return t, ok
	},
}

// OneType is a small model whose every matrix is of type t (the norms
// are F32), for checking each type alone: its widths are whole blocks of
// every type.
func OneType(t gguf.TensorType) Spec {
	s := Spec{
		Layers: 2, Embedding: 256, FeedForward: 512, Heads: 4, KVHeads: 2, HeadDim: 64,
		Vocab: 300, Context: 64, RopeBase: 10000, NormEps: 1e-5, Seed: 7 + uint64(t),
		Types: map[string]gguf.TensorType{},
	}
	for _, role := range []string{"token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
		s.Types[role] = t
	}
	return s
}

var secondShapeLayers = map[int]map[string]gguf.TensorType{
	1: {"attn_q": gguf.Q2_K, "attn_k": gguf.Q3_K, "attn_v": gguf.IQ4_XS, "attn_output": gguf.Q4_1,
		"ffn_gate": gguf.Q5_0, "ffn_up": gguf.Q5_1, "ffn_down": gguf.IQ4_NL},
	2: {"attn_q": gguf.IQ4_NL, "attn_k": gguf.Q5_1, "attn_v": gguf.Q2_K, "attn_output": gguf.Q5_0,
		"ffn_gate": gguf.IQ4_XS, "ffn_up": gguf.Q3_K, "ffn_down": gguf.Q4_1},
}
