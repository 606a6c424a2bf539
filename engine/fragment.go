package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"strata/gguf"
)

// FragmentOptions choose what part of a model a Fragment computes. The
// zero value is valid: every layer, batches of DefaultBatch positions.
type FragmentOptions struct {
	// Start and End bound the layers [Start, End) to run; End 0 means the last.
	Start, End int
	// Batch is the most positions one pass of the layers computes; longer
	// inputs are cut into batches of this size. 0 means DefaultBatch.
	Batch int
	// Probe, if set, sees the hidden states after each stage of each
	// layer (strata verify compares them with the exact pass). It costs
	// a read of the activations per stage.
	Probe Probe
	// Progress, if set, is called after each tensor is loaded onto the
	// backend (read, checked and, on a GPU, uploaded) with the bytes of
	// weights loaded so far and those of the whole fragment.
	Progress func(done, total int64)
}

// DefaultBatch is the number of prompt positions computed per pass.
const DefaultBatch = 256

// A Fragment runs layers [Start, End) of a model on a backend. The first
// fragment (Start 0) also embeds tokens; the last (End = Layers) also
// applies the final norm and the output head. A Fragment runs one Forward
// (or ForwardMany) at a time.
type Fragment struct {
	Config Config
	Start  int
	End    int

	b      Backend
	batch  int
	bytes  int64 // weight bytes
	embed  Weight
	norm   Weight // output_norm: Embedding
	head   Weight // output (or token_embd when tied): Vocab × Embedding
	layers []layerWeights
	ropeQ  Rope
	ropeK  Rope
	attn   AttentionShape

	probe    Probe
	probed   []float32 // what the probe is handed: batch × Embedding
	probeErr error

	// Activations, batch rows each.
	x, xb, q, k, v, att, gate, up Tensor
	// logits: 1 × Vocab, grown (to at most batch rows) when a pass asks
	// for the logits of several rows.
	logits Tensor
	// Scratch of the passes of several sequences (see many.go), allocated
	// at the first: one sequence's q, k, v and attention rows moved to row
	// 0, batch rows each.
	sq, sk, sv, satt Tensor

	closed bool

	one    [1]Part   // Forward's part
	segs   []segment // the current pass's segments
	rows   []int     // rows of the current pass whose logits are asked for
	tokens []int32   // the current pass's tokens, when it has several parts
	hidden []float32 // its hidden states (rows × Embedding), when it has several parts
}

// First reports whether the fragment embeds tokens.
func (f *Fragment) First() bool { return f.Start == 0 }

// Last reports whether the fragment produces logits.
func (f *Fragment) Last() bool { return f.End == f.Config.Layers }

// WeightBytes is the size of the weights the fragment computes with.
func (f *Fragment) WeightBytes() int64 { return f.bytes }

// Backend is the backend the fragment computes on.
func (f *Fragment) Backend() Backend { return f.b }

// NewFragment loads layers of the model in file onto backend b. The file
// must stay open while the fragment is used.
func NewFragment(file *gguf.File, b Backend, o FragmentOptions) (*Fragment, error) {
	c, err := ConfigFrom(file)
	if err != nil {
		return nil, err
	}
	if o.Start == 0 && o.End == 0 {
		// A fragment file says which layers it holds.
		if start, err := file.Int(KeyFragmentStart); err == nil {
			end, err := file.Int(KeyFragmentEnd)
			if err != nil {
				return nil, fmt.Errorf("engine: %w", err)
			}
			o.Start, o.End = int(start), int(end)
		}
	}
	if o.End == 0 {
		o.End = c.Layers
	}
	if o.Start < 0 || o.Start >= o.End || o.End > c.Layers {
		return nil, fmt.Errorf("engine: layers %d to %d are not a range of the model's %d (0-%d)", o.Start, o.End-1, c.Layers, c.Layers-1)
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	f := &Fragment{Config: c, Start: o.Start, End: o.End, b: b, batch: o.Batch, probe: o.Probe}
	l := &loader{f: file, b: b, used: map[string]bool{}, progress: o.Progress}
	if l.progress != nil {
		l.total = WeightBytes(file, f.Start, f.End, f.First(), f.Last())
	}
	if f.First() {
		if f.embed, err = l.load("token_embd.weight", c.Embedding, c.Vocab); err != nil {
			return nil, err
		}
	}
	for i := o.Start; i < o.End; i++ {
		w, err := l.layer(&c, i)
		if err != nil {
			return nil, err
		}
		f.layers = append(f.layers, w)
	}
	if f.Last() {
		if f.norm, err = l.load("output_norm.weight", c.Embedding, 0); err != nil {
			return nil, err
		}
		if _, ok := file.Tensor("output.weight"); ok {
			f.head, err = l.load("output.weight", c.Embedding, c.Vocab)
		} else if f.embed != nil {
			f.head = f.embed // tied to the embedding
		} else {
			f.head, err = l.load("token_embd.weight", c.Embedding, c.Vocab)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := l.checkUnused(o.Start, o.End, f.First(), f.Last()); err != nil {
		return nil, err
	}
	f.bytes = l.weights

	factors, err := ropeFactors(file)
	if err != nil {
		return nil, err
	}
	freqs, err := c.RopeFreqs(factors)
	if err != nil {
		return nil, err
	}
	f.ropeQ = Rope{HeadDim: c.HeadDim, Heads: c.Heads, Dims: c.RopeDims, Freqs: freqs}
	f.ropeK = Rope{HeadDim: c.HeadDim, Heads: c.KVHeads, Dims: c.RopeDims, Freqs: freqs}
	f.attn = AttentionShape{Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim,
		Scale: float32(1 / math.Sqrt(float64(c.HeadDim)))}
	return f, f.allocate()
}

func ropeFactors(file *gguf.File) ([]float32, error) {
	t, ok := file.Tensor("rope_freqs.weight")
	if !ok {
		return nil, nil
	}
	if t.Type != gguf.F32 || len(t.Dims) != 1 {
		return nil, fmt.Errorf("engine: rope_freqs.weight is %v %v, want a vector of F32", t.Type, t.Dims)
	}
	data := file.TensorData(t)
	v := make([]float32, t.Dims[0])
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		if !(v[i] > 0) {
			return nil, fmt.Errorf("engine: rope_freqs.weight[%d] is %v", i, v[i])
		}
	}
	return v, nil
}

func (f *Fragment) allocate() error {
	c := &f.Config
	n := f.batch
	var err error
	alloc := func(rows, cols int) Tensor {
		if err != nil {
			return nil
		}
		var t Tensor
		t, err = f.b.NewTensor(rows, cols)
		return t
	}
	f.x = alloc(n, c.Embedding)
	f.xb = alloc(n, c.Embedding)
	f.q = alloc(n, c.QueryWidth())
	f.k = alloc(n, c.KVWidth())
	f.v = alloc(n, c.KVWidth())
	f.att = alloc(n, c.QueryWidth())
	f.gate = alloc(n, c.FeedForward)
	f.up = alloc(n, c.FeedForward)
	if f.Last() {
		f.logits = alloc(1, c.Vocab)
	}
	if err != nil {
		return fmt.Errorf("engine: allocate activations: %w", err)
	}
	return nil
}

// Close releases the fragment's weights and activations on its backend
// (the CPU's maps the file and copies nothing of it; a GPU frees its
// copies). Its sessions must be closed first. A closed fragment computes
// nothing more: Forward and NewSession return ErrClosed.
func (f *Fragment) Close() {
	if f.closed {
		return
	}
	f.closed = true
	for _, t := range []Tensor{f.x, f.xb, f.q, f.k, f.v, f.att, f.gate, f.up, f.logits, f.sq, f.sk, f.sv, f.satt} {
		if t != nil {
			t.Release()
		}
	}
	weights := []Weight{f.embed, f.norm}
	if f.head != f.embed {
		weights = append(weights, f.head)
	}
	for _, l := range f.layers {
		weights = append(weights, l.attnNorm, l.q, l.k, l.v, l.output, l.ffnNorm, l.gate, l.up, l.down)
	}
	for _, w := range weights {
		if w != nil {
			w.Release()
		}
	}
	f.layers = nil
}

// A Session is one sequence's state in a fragment: the KV cache of the
// fragment's layers and the next position.
type Session struct {
	f       *Fragment
	cache   Cache // nil once closed
	context int
	pos     int
}

// NewSession allocates a session able to hold positions [0, context).
func (f *Fragment) NewSession(context int) (*Session, error) {
	if context <= 0 {
		return nil, fmt.Errorf("engine: context of %d positions", context)
	}
	if f.closed {
		return nil, fmt.Errorf("engine: the fragment is closed: %w", ErrClosed)
	}
	c, err := f.b.NewCache(f.End-f.Start, context, f.Config.KVWidth())
	if err != nil {
		return nil, fmt.Errorf("engine: allocate KV cache: %w", err)
	}
	return &Session{f: f, cache: c, context: context}, nil
}

// Close releases the session's KV cache. A closed session computes
// nothing more: Forward and Eval return ErrClosed.
func (s *Session) Close() {
	if s.cache != nil {
		s.cache.Release()
		s.cache = nil
	}
}

// Fragment is the fragment the session computes on.
func (s *Session) Fragment() *Fragment { return s.f }

// Pos is the number of positions the session holds.
func (s *Session) Pos() int { return s.pos }

// Context is the number of positions the session can hold; a closed
// session goes on reporting it.
func (s *Session) Context() int { return s.context }

// Truncate forgets positions from pos on.
func (s *Session) Truncate(pos int) {
	s.pos = min(max(pos, 0), s.pos)
}

// ErrContextFull reports input that does not fit the session's context.
var ErrContextFull = errors.New("context full")

// ErrClosed reports the use of a session or fragment after its Close.
var ErrClosed = errors.New("session closed")

// ErrBadInput reports a token or hidden state a fragment cannot take.
var ErrBadInput = errors.New("bad input")

// A Batch is the input of one Forward: Tokens for a first fragment,
// otherwise Hidden, len(Hidden) = positions × Embedding.
type Batch struct {
	Tokens []int32
	Hidden []float32
	// AllLogits asks a last fragment for the logits of every position,
	// not only the last.
	AllLogits bool
	// NoLogits has a last fragment leave the logits out: the batch only
	// fills the session's cache (a prompt chunk before the last, or a
	// witness catching up), and the output may be empty.
	NoLogits bool
	// CacheOnly has any fragment write nothing: the batch only fills the
	// session's cache (a witness catching up), and the output may be
	// empty. On a last fragment it is NoLogits.
	CacheOnly bool
}

// cacheOnly reports whether the batch's output goes unread.
func (f *Fragment) cacheOnly(in *Batch) bool {
	return in.CacheOnly || in.NoLogits && f.Last()
}

// Len is the number of positions in the batch.
func (b *Batch) Len(embedding int) int {
	if b.Tokens != nil {
		return len(b.Tokens)
	}
	return len(b.Hidden) / embedding
}

// OutputSize is the number of values Forward writes for a batch of n
// positions.
func (f *Fragment) OutputSize(n int, allLogits bool) int {
	switch {
	case !f.Last():
		return n * f.Config.Embedding
	case allLogits:
		return n * f.Config.Vocab
	}
	return f.Config.Vocab
}

// Forward runs the batch through the fragment at the session's next
// positions and writes to out what the fragment produces: hidden states
// (positions × Embedding) or, for a last fragment, logits (Vocab values
// for the last position, or positions × Vocab with AllLogits). It is
// ForwardMany of one part.
func (f *Fragment) Forward(out []float32, s *Session, in Batch) error {
	f.one[0] = Part{Session: s, Batch: in, Out: out}
	err := f.ForwardMany(f.one[:])
	f.one[0] = Part{}
	return err
}

// check checks one part's input against its session and the fragment:
// n is its positions. Its errors lack the package's prefix, which
// ForwardMany adds with the part's index.
func (f *Fragment) check(out []float32, s *Session, in *Batch, n int) error {
	c := &f.Config
	if s == nil || s.f != f {
		return fmt.Errorf("session belongs to another fragment")
	}
	if s.cache == nil {
		return ErrClosed
	}
	if f.First() {
		if in.Tokens == nil {
			return fmt.Errorf("%w: the first fragment takes tokens", ErrBadInput)
		}
		for _, t := range in.Tokens {
			if t < 0 || int(t) >= c.Vocab {
				return fmt.Errorf("%w: token %d is outside the vocabulary of %d", ErrBadInput, t, c.Vocab)
			}
		}
	} else if in.Tokens != nil || len(in.Hidden)%c.Embedding != 0 {
		return fmt.Errorf("%w: layers %d.. take hidden states of width %d", ErrBadInput, f.Start, c.Embedding)
	}
	if n == 0 {
		return fmt.Errorf("%w: empty batch", ErrBadInput)
	}
	if s.pos+n > s.context {
		return fmt.Errorf("%w: %d positions after %d do not fit the context of %d",
			ErrContextFull, n, s.pos, s.context)
	}
	if in.AllLogits && (in.NoLogits || in.CacheOnly) {
		return fmt.Errorf("%w: a batch asking for all its logits and for none", ErrBadInput)
	}
	if need := f.OutputSize(n, in.AllLogits); len(out) < need && !f.cacheOnly(in) {
		return fmt.Errorf("output of %d values, need %d", len(out), need)
	}
	return nil
}
