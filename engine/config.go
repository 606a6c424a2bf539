package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"strata/gguf"
)

// ErrUnsupportedArchitecture reports a model whose architecture the engine
// does not compute.
var ErrUnsupportedArchitecture = errors.New("unsupported architecture")

// Architectures lists the general.architecture values the engine computes.
var Architectures = []string{"llama"}

// Config is the shape of a llama-family model, read from GGUF metadata.
type Config struct {
	Architecture string
	Name         string
	Layers       int     // transformer blocks
	Embedding    int     // width of the hidden state (n_embd)
	FeedForward  int     // width of the SwiGLU hidden layer (n_ff)
	Heads        int     // query heads
	KVHeads      int     // key/value heads (GQA when fewer than Heads)
	HeadDim      int     // width of a head; Heads×HeadDim may differ from Embedding
	Vocab        int     // rows of token_embd
	Context      int     // context length the model was trained for
	NormEps      float32 // RMSNorm epsilon
	RopeBase     float64
	RopeDims     int     // rotated dimensions per head
	RopeScale    float64 // linear position scaling factor (1: none)
}

// QueryWidth is the width of all query heads together.
func (c *Config) QueryWidth() int { return c.Heads * c.HeadDim }

// KVWidth is the width of all key (or value) heads together.
func (c *Config) KVWidth() int { return c.KVHeads * c.HeadDim }

// ConfigFrom reads a model's configuration from its metadata.
func ConfigFrom(f *gguf.File) (Config, error) {
	arch, err := f.String("general.architecture")
	if err != nil {
		return Config{}, fmt.Errorf("engine: %w", err)
	}
	if !slices.Contains(Architectures, arch) {
		return Config{}, fmt.Errorf("engine: %w %q (supported: %s)", ErrUnsupportedArchitecture, arch, strings.Join(Architectures, ", "))
	}
	c := Config{Architecture: arch, RopeBase: 10000, RopeScale: 1}
	c.Name, _ = f.String("general.name")
	r := metaReader{f: f, prefix: arch + "."}
	c.Layers = r.int("block_count", 0)
	c.Embedding = r.int("embedding_length", 0)
	c.FeedForward = r.int("feed_forward_length", 0)
	c.Heads = r.int("attention.head_count", 0)
	c.KVHeads = r.int("attention.head_count_kv", c.Heads)
	if n, err := f.Int(arch + ".context_length"); err == nil && n > 0 && n <= 1<<24 {
		c.Context = int(n) // optional: only a default for -c
	}
	if r.err == nil && c.Heads > 0 {
		if _, err := f.Int(arch + ".attention.key_length"); errors.Is(err, gguf.ErrMissingKey) && c.Embedding%c.Heads != 0 {
			return Config{}, fmt.Errorf("engine: %s.attention.head_count %d does not divide %s.embedding_length %d (and there is no %s.attention.key_length)",
				arch, c.Heads, arch, c.Embedding, arch)
		}
		c.HeadDim = r.int("attention.key_length", c.Embedding/c.Heads)
		if v := r.int("attention.value_length", c.HeadDim); v != c.HeadDim && r.err == nil {
			r.err = fmt.Errorf("engine: %s.attention.value_length %d differs from %s.attention.key_length %d", arch, v, arch, c.HeadDim)
		}
	}
	c.NormEps = float32(r.float("attention.layer_norm_rms_epsilon", 1e-5))
	c.RopeBase = r.float("rope.freq_base", 10000)
	c.RopeDims = r.int("rope.dimension_count", c.HeadDim)
	if typ := r.string("rope.scaling.type", "none"); r.err == nil {
		switch typ {
		case "none":
		case "linear":
			c.RopeScale = r.float("rope.scaling.factor", 1)
		default:
			r.err = fmt.Errorf("engine: rope scaling %q is not supported (supported: none, linear)", typ)
		}
	}
	if r.err != nil {
		return Config{}, r.err
	}
	if err := checkLayerTensors(f, arch, c.Layers); err != nil {
		return Config{}, err
	}
	if t, ok := f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
		c.Vocab = int(t.Dims[1])
		if n, err := f.Int(arch + ".vocab_size"); err == nil && n != int64(c.Vocab) {
			return Config{}, fmt.Errorf("engine: %s.vocab_size is %d, but token_embd.weight has %d rows", arch, n, c.Vocab)
		}
	} else {
		c.Vocab = r.int("vocab_size", 0)
		if r.err != nil {
			return Config{}, r.err
		}
	}
	if err := checkTokenCount(f, c.Vocab); err != nil {
		return Config{}, err
	}
	return c, c.validate()
}

// checkTokenCount refuses a token list whose length is not the model's
// vocabulary: ids past either end would embed or name nothing.
func checkTokenCount(f *gguf.File, vocab int) error {
	a, err := f.Array("tokenizer.ggml.tokens")
	if err != nil {
		return nil // no tokenizer (a fragment), or one VocabFrom names
	}
	if n := arrayLen(a); n >= 0 && n != vocab {
		return fmt.Errorf("engine: tokenizer.ggml.tokens holds %d tokens, but the model's vocabulary (token_embd.weight, vocab_size) is %d", n, vocab)
	}
	return nil
}

// arrayLen is the number of values of a, -1 when they are of no type it
// knows.
func arrayLen(a gguf.Array) int {
	switch v := a.Values.(type) {
	case []string:
		return len(v)
	}
	return -1
}

// checkLayerTensors refuses tensors of layers past block_count: a file
// that understates its layers would otherwise lose the others silently.
func checkLayerTensors(f *gguf.File, arch string, layers int) error {
	for _, t := range f.Tensors {
		if i, ok := layerOf(t.Name); ok && i >= layers {
			return fmt.Errorf("engine: tensor %q is of layer %d, but %s.block_count says the model has %d layers", t.Name, i, arch, layers)
		}
	}
	return nil
}

// layerOf is the layer of a tensor named blk.N.…; ok false for others.
func layerOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return 0, false
	}
	n, _, _ := strings.Cut(rest, ".")
	i, err := strconv.Atoi(n)
	return i, err == nil && i >= 0
}

func (c *Config) validate() error {
	bounded := []struct {
		name string
		v    int
		max  int
	}{
		{"block_count", c.Layers, MaxLayers}, {"embedding_length", c.Embedding, MaxEmbedding},
		{"feed_forward_length", c.FeedForward, MaxFeedForward}, {"attention.head_count", c.Heads, MaxHeads},
		{"attention.head_count_kv", c.KVHeads, MaxHeads}, {"attention.key_length", c.HeadDim, MaxHeadDim},
		{"vocab_size", c.Vocab, MaxVocab},
	}
	for _, p := range bounded {
		if p.v <= 0 || p.v > p.max {
			return fmt.Errorf("engine: %s.%s is %d (want 1 to %d)", c.Architecture, p.name, p.v, p.max)
		}
	}
	switch {
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("engine: %s.attention.head_count_kv %d does not divide %s.attention.head_count %d (query heads share KV heads evenly)",
			c.Architecture, c.KVHeads, c.Architecture, c.Heads)
	case c.RopeDims <= 0 || c.RopeDims > c.HeadDim || c.RopeDims%2 != 0:
		return fmt.Errorf("engine: %s.rope.dimension_count %d does not fit head size %d (an even count up to %s.attention.key_length)",
			c.Architecture, c.RopeDims, c.HeadDim, c.Architecture)
	case !(c.NormEps > 0) || math.IsInf(float64(c.NormEps), 0):
		return fmt.Errorf("engine: RMSNorm epsilon %v", c.NormEps)
	case !(c.RopeBase > 0) || math.IsInf(c.RopeBase, 0):
		return fmt.Errorf("engine: rope.freq_base %v", c.RopeBase)
	case !(c.RopeScale > 0) || math.IsInf(c.RopeScale, 0):
		return fmt.Errorf("engine: rope.scaling.factor %v", c.RopeScale)
	}
	return nil
}

// RopeFreqs returns the angular frequency of each rotated pair:
// base^(−2i/dims) / scale, divided by the model's per-pair factors when
// it has a rope_freqs tensor.
func (c *Config) RopeFreqs(factors []float32) ([]float64, error) {
	half := c.RopeDims / 2
	if factors != nil && len(factors) != half {
		return nil, fmt.Errorf("engine: rope_freqs has %d values, want %d", len(factors), half)
	}
	freqs := make([]float64, half)
	for i := range freqs {
		freqs[i] = math.Pow(c.RopeBase, -2*float64(i)/float64(c.RopeDims)) / c.RopeScale
		if factors != nil {
			freqs[i] /= float64(factors[i])
		}
	}
	return freqs, nil
}

// metaReader reads architecture keys, keeping the first error.
type metaReader struct {
	f      *gguf.File
	prefix string
	err    error
}

func (r *metaReader) int(key string, def int) int {
	if r.err != nil {
		return 0
	}
	v, err := r.f.Int(r.prefix + key)
	if errors.Is(err, gguf.ErrMissingKey) && def != 0 {
		return def
	}
	if err != nil {
		r.err = fmt.Errorf("engine: %w", err)
		return 0
	}
	if v < 0 || v > math.MaxInt32 {
		r.err = fmt.Errorf("engine: %s%s is %d", r.prefix, key, v)
		return 0
	}
	return int(v)
}

func (r *metaReader) float(key string, def float64) float64 {
	if r.err != nil {
		return 0
	}
	v, err := r.f.Float(r.prefix + key)
	if errors.Is(err, gguf.ErrMissingKey) {
		return def
	}
	if err != nil {
		r.err = fmt.Errorf("engine: %w", err)
	}
	return v
}

func (r *metaReader) string(key, def string) string {
	if r.err != nil {
		return ""
	}
	v, err := r.f.String(r.prefix + key)
	if errors.Is(err, gguf.ErrMissingKey) {
		return def
	}
	if err != nil {
		r.err = fmt.Errorf("engine: %w", err)
	}
	return v
}
