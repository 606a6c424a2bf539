package engine_test

import (
	"math"
	"testing"

	"strata/engine"
)

// sizingBackend counts the bytes of the activations and caches a
// fragment allocates.
type sizingBackend struct {
	engine.Backend
	tensors, caches int64
}

func (b *sizingBackend) NewTensor(rows, cols int) (engine.Tensor, error) {
	b.tensors += int64(rows * cols * 4)
	return b.Backend.NewTensor(rows, cols)
}

func (b *sizingBackend) NewCache(layers, positions, width int) (engine.Cache, error) {
	b.caches += int64(layers * positions * width * 4 * 2)
	return b.Backend.NewCache(layers, positions, width)
}

// TestMemoryMatchesAllocations checks Config.Memory against what a
// whole-model fragment and its session allocate.
func TestMemoryMatchesAllocations(t *testing.T) {
	for _, c := range []struct{ batch, context int }{{1, 16}, {7, 100}, {256, 4096}} {
		b := &sizingBackend{Backend: cpuBackend(t)}
		frag, err := engine.NewFragment(openTiny(t), b, engine.FragmentOptions{Batch: c.batch})
		if err != nil {
			t.Fatal(err)
		}
		s, err := frag.NewSession(c.context)
		if err != nil {
			t.Fatal(err)
		}
		m := frag.Config.Memory(frag.Config.Layers, c.context, c.batch)
		if m.Activations != b.tensors || m.KV != b.caches {
			t.Errorf("batch %d, context %d: Memory says %d + %d bytes, the fragment allocated %d + %d",
				c.batch, c.context, m.Activations, m.KV, b.tensors, b.caches)
		}
		// A batch of two sequences allocates the scratch of batching, and
		// logits for two rows where the batch has them.
		s2, err := frag.NewSession(c.context)
		if err != nil {
			t.Fatal(err)
		}
		before := b.tensors
		vocab := frag.Config.Vocab
		out := make([]float32, 2*vocab)
		if err := frag.ForwardMany([]engine.Part{{Session: s, Batch: engine.Batch{Tokens: []int32{1}}, Out: out[:vocab]},
			{Session: s2, Batch: engine.Batch{Tokens: []int32{1}}, Out: out[vocab:]}}); err != nil {
			t.Fatal(err)
		}
		logits := int64(min(2, c.batch) * vocab * 4)
		if c.batch == 1 {
			logits = 0
		}
		if got := b.tensors - before; got != m.Batching+logits {
			t.Errorf("batch %d: two sequences allocated %d bytes, want Batching %d + logits %d", c.batch, got, m.Batching, logits)
		}
		s.Close()
		s2.Close()
	}
}

// TestMemorySaturates checks that absurd sizes give MaxInt64, not a
// product that wrapped around.
func TestMemorySaturates(t *testing.T) {
	cfg := engine.Config{Layers: 1024, Embedding: 1 << 16, FeedForward: 1 << 18, Heads: 1024, KVHeads: 1024, HeadDim: 1024, Vocab: 1 << 22}
	for _, c := range []struct{ context, batch int }{{1 << 40, 1}, {1, math.MaxInt}, {math.MaxInt, math.MaxInt}} {
		if m := cfg.Memory(cfg.Layers, c.context, c.batch); m.Total() != math.MaxInt64 {
			t.Errorf("context %d, batch %d: %d bytes (%v)", c.context, c.batch, m.Total(), m)
		}
	}
	// The largest context -c takes on the largest model the engine takes:
	// 2^57 bytes of KV cache, exactly.
	if m := cfg.Memory(cfg.Layers, 1<<24, 1); m.KV != 1<<57 {
		t.Errorf("KV of %d bytes, want 2^57", m.KV)
	}
}
