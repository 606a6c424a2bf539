package engine

import (
	"fmt"
	"math"
	"math/bits"
)

// Memory is what computing a fragment takes besides its weights: the
// activations of a batch (allocated with the fragment) and one session's
// KV cache (allocated with the session). Sizes are bytes; a size too large
// for an int64 is math.MaxInt64.
type Memory struct {
	Layers, Context, Batch int   // the sizes it was computed for
	KVWidth                int   // values of a position's key (or value) in a layer
	KV                     int64 // layers × context × KVWidth × 4 bytes × 2 (keys and values, f32)
	Activations            int64 // batch × (2×embedding + 2×query + 2×KV + 2×feed-forward width) × 4 bytes, and the head's
	// Batching is the scratch of batches of several sequences, allocated
	// at a fragment's first ForwardMany of several parts: batch ×
	// (2×query + 2×KV width) × 4 bytes.
	Batching int64
}

// Memory computes the memory of a fragment of layers layers that runs
// batches of batch positions, and of a session of context positions
// (context 0: no session). It is the one place that knows what the
// engine allocates for activations and KV caches; every size a user
// chooses (context, batch size, sessions) is checked against it before
// anything is allocated.
func (c *Config) Memory(layers, context, batch int) Memory {
	m := Memory{Layers: layers, Context: context, Batch: batch, KVWidth: c.KVWidth()}
	m.KV = product(layers, context, c.KVWidth(), 4, 2)
	// As Fragment.allocate: x, xb, q, k, v, att, gate and up, batch rows
	// each; the last fragment's row of logits.
	perRow := 2*c.Embedding + 2*c.QueryWidth() + 2*c.KVWidth() + 2*c.FeedForward
	m.Activations = sum(product(batch, perRow, 4), product(c.Vocab, 4))
	// As Fragment.prepare: sq, sk, sv and satt, batch rows each.
	m.Batching = product(batch, 2*c.QueryWidth()+2*c.KVWidth(), 4)
	return m
}

// Total is the activations and the KV cache together: what one sequence
// takes (several sequences batched take Batching more, and a KV cache
// each).
func (m Memory) Total() int64 { return sum(m.KV, m.Activations) }

// String describes the memory with its factors, on one line.
func (m Memory) String() string {
	s := fmt.Sprintf("activations %s (batches of %d)", Bytes(m.Activations), m.Batch)
	if m.Context > 0 {
		s = fmt.Sprintf("the KV cache %s (%d layers × %d positions × %d values × 4 bytes × 2) and %s",
			Bytes(m.KV), m.Layers, m.Context, m.KVWidth, s)
	}
	return s
}

// Bytes formats a size in bytes with a binary unit: "1.5 GiB".
func Bytes(n int64) string {
	if n == math.MaxInt64 {
		return "more than 8 EiB"
	}
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	x, u := float64(n), 0
	for x >= 1024 && u < len(units)-1 {
		x /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f %s", x, units[u])
}

// product multiplies non-negative factors, saturating at math.MaxInt64.
func product(factors ...int) int64 {
	p := uint64(1)
	for _, f := range factors {
		if f <= 0 {
			return 0
		}
		hi, lo := bits.Mul64(p, uint64(f))
		if hi != 0 || lo > math.MaxInt64 {
			return math.MaxInt64
		}
		p = lo
	}
	return int64(p)
}

// sum adds non-negative sizes, saturating at math.MaxInt64.
func sum(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
