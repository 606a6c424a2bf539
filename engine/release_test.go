package engine_test

import (
	"errors"
	"testing"

	"strata/engine"
	"strata/gguf"
)

// countingBackend wraps a backend, counting the tensors it holds and
// failing the test on a use of a released one.
type countingBackend struct {
	engine.Backend
	t    *testing.T
	live int
}

type countedTensor struct {
	engine.Tensor
	b        *countingBackend
	released bool
}

func (t *countedTensor) Release() {
	if t.released {
		t.b.t.Error("a tensor released twice")
		return
	}
	t.released = true
	t.b.live--
	t.Tensor.Release()
}

func (b *countingBackend) NewTensor(rows, cols int) (engine.Tensor, error) {
	t, err := b.Backend.NewTensor(rows, cols)
	if err != nil {
		return nil, err
	}
	b.live++
	return &countedTensor{Tensor: t, b: b}, nil
}

// in unwraps a tensor for the backend underneath.
func (b *countingBackend) in(t engine.Tensor) engine.Tensor {
	c := t.(*countedTensor)
	if c.released {
		b.t.Fatal("a released tensor used")
	}
	return c.Tensor
}

func (b *countingBackend) Write(dst engine.Tensor, src []float32) error {
	return b.Backend.Write(b.in(dst), src)
}

func (b *countingBackend) Read(dst []float32, src engine.Tensor, row, n int) error {
	return b.Backend.Read(dst, b.in(src), row, n)
}

func (b *countingBackend) Copy(dst engine.Tensor, dstRow int, src engine.Tensor, srcRow, n int) {
	b.Backend.Copy(b.in(dst), dstRow, b.in(src), srcRow, n)
}

func (b *countingBackend) Embed(out engine.Tensor, table engine.Weight, tokens []int32) {
	b.Backend.Embed(b.in(out), table, tokens)
}

func (b *countingBackend) RMSNorm(out, x engine.Tensor, w engine.Weight, n int, eps float32) {
	b.Backend.RMSNorm(b.in(out), b.in(x), w, n, eps)
}

func (b *countingBackend) MatMul(out engine.Tensor, w engine.Weight, x engine.Tensor, n int) {
	b.Backend.MatMul(b.in(out), w, b.in(x), n)
}

func (b *countingBackend) RoPE(x engine.Tensor, n, pos int, r *engine.Rope) {
	b.Backend.RoPE(b.in(x), n, pos, r)
}

func (b *countingBackend) Attention(out, q, k, v engine.Tensor, c engine.Cache, layer, pos, n int, a *engine.AttentionShape) {
	b.Backend.Attention(b.in(out), b.in(q), b.in(k), b.in(v), c, layer, pos, n, a)
}

func (b *countingBackend) SwiGLU(out, gate, up engine.Tensor, n int) {
	b.Backend.SwiGLU(b.in(out), b.in(gate), b.in(up), n)
}

func (b *countingBackend) Add(x, y engine.Tensor, n int) {
	b.Backend.Add(b.in(x), b.in(y), n)
}

// TestAllLogitsReleasesTensor checks that growing the logits for a batch
// asking for all of them frees the one-row tensor it replaces, and that
// decoding after goes on with the same tensors.
func TestAllLogitsReleasesTensor(t *testing.T) {
	b := &countingBackend{Backend: cpuBackend(t), t: t}
	frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	live := b.live
	s, err := frag.NewSession(64)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	vocab := frag.Config.Vocab
	tokens := []int32{1, 415, 2936, 9060, 285, 1142}
	all := make([]float32, len(tokens)*vocab)
	for range 2 {
		s.Truncate(0)
		if err := frag.Forward(all, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
			t.Fatal(err)
		}
		if b.live != live {
			t.Fatalf("%d tensors live after a batch of all logits, %d before", b.live, live)
		}
	}
	last := make([]float32, vocab)
	if err := frag.Forward(last, s, engine.Batch{Tokens: []int32{1}}); err != nil {
		t.Fatal(err)
	}
	if b.live != live {
		t.Fatalf("%d tensors live after a decode step, %d before", b.live, live)
	}
}

// releasingBackend counts the weights it loaded and those released.
type releasingBackend struct {
	*countingBackend
	loaded, released int
}

type releasedWeight struct {
	engine.ReleasableWeight
	b *releasingBackend
}

func (w *releasedWeight) Release() {
	w.b.released++
	w.ReleasableWeight.Release()
}

func (b *releasingBackend) LoadWeight(t *gguf.TensorInfo, data []byte) (engine.Weight, error) {
	w, err := b.countingBackend.LoadWeight(t, data)
	if err != nil {
		return nil, err
	}
	b.loaded++
	return &releasedWeight{ReleasableWeight: w.(engine.ReleasableWeight), b: b}, nil
}

func (b *releasingBackend) unwrap(w engine.Weight) engine.Weight {
	return w.(*releasedWeight).ReleasableWeight
}

func (b *releasingBackend) Embed(out engine.Tensor, table engine.Weight, tokens []int32) {
	b.countingBackend.Embed(out, b.unwrap(table), tokens)
}

func (b *releasingBackend) RMSNorm(out, x engine.Tensor, w engine.Weight, n int, eps float32) {
	b.countingBackend.RMSNorm(out, x, b.unwrap(w), n, eps)
}

func (b *releasingBackend) MatMul(out engine.Tensor, w engine.Weight, x engine.Tensor, n int) {
	b.countingBackend.MatMul(out, b.unwrap(w), x, n)
}

// TestFragmentClose checks that closing a fragment releases every weight
// once (the tied head with the embedding) and every activation, and that
// a closed fragment refuses work with ErrClosed instead of computing on
// released memory.
func TestFragmentClose(t *testing.T) {
	b := &releasingBackend{countingBackend: &countingBackend{Backend: cpuBackend(t), t: t}}
	frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	s, err := frag.NewSession(16)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, frag.Config.Vocab)
	if err := frag.Forward(logits, s, engine.Batch{Tokens: []int32{1, 415}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	frag.Close()
	if b.released != b.loaded || b.loaded == 0 {
		t.Errorf("%d of %d weights released", b.released, b.loaded)
	}
	if b.live != 0 {
		t.Errorf("%d activations live after Close", b.live)
	}
	if frag.WeightBytes() != 0 {
		t.Errorf("a closed fragment reports %d bytes of weights", frag.WeightBytes())
	}
	if _, err := frag.NewSession(16); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("a session of a closed fragment: %v, want ErrClosed", err)
	}
	frag.Close() // twice does nothing
	if b.released != b.loaded {
		t.Errorf("closing twice released %d of %d weights", b.released, b.loaded)
	}
}
