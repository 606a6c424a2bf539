package engine_test

import (
	"slices"
	"testing"

	"strata/engine"
)

// attentionCounter counts the attentions a backend runs.
type attentionCounter struct {
	engine.CacheWriter
	attentions int
}

func (b *attentionCounter) Attention(out, q, k, v engine.Tensor, c engine.Cache, layer, pos, n int, a *engine.AttentionShape) {
	b.attentions++
	b.CacheWriter.Attention(out, q, k, v, c, layer, pos, n, a)
}

// TestCacheOnly checks that a CacheOnly batch leaves a session exactly
// where a full one does, for a first, a middle, a last and a whole
// fragment, alone and beside a part that reads its output: what comes
// next is the same, bit for bit. Alone, the pass skips its last layer's
// attention.
func TestCacheOnly(t *testing.T) {
	file := openTiny(t)
	b := &attentionCounter{CacheWriter: cpuBackend(t).(engine.CacheWriter)}

	prompt, next := []int32{1, 415, 2936, 9060, 285}, []int32{1142, 304}
	for _, r := range [][2]int{{0, 2}, {1, 3}, {2, 4}, {0, 4}} {
		frag, err := engine.NewFragment(file, b, engine.FragmentOptions{Start: r[0], End: r[1], Batch: 4})
		if err != nil {
			t.Fatal(err)
		}
		// The fragment's input: tokens, or hidden states from the layers
		// before it.
		input := func(tokens []int32) engine.Batch {
			if frag.First() {
				return engine.Batch{Tokens: tokens}
			}
			before, err := engine.NewFragment(file, b, engine.FragmentOptions{End: r[0], Batch: 8})
			if err != nil {
				t.Fatal(err)
			}
			s, _ := before.NewSession(16)
			all := append(append([]int32(nil), prompt...), next...)
			h := make([]float32, len(all)*frag.Config.Embedding)
			if err := before.Forward(h, s, engine.Batch{Tokens: all}); err != nil {
				t.Fatal(err)
			}
			before.Close()
			from := 0
			if tokens[0] == next[0] {
				from = len(prompt)
			}
			return engine.Batch{Hidden: h[from*frag.Config.Embedding : (from+len(tokens))*frag.Config.Embedding]}
		}
		first, second := input(prompt), input(next)
		continued := func(cacheOnly, beside bool) ([]float32, int) {
			t.Helper()
			s, _ := frag.NewSession(16)
			defer s.Close()
			in := first
			in.CacheOnly = cacheOnly
			parts := []engine.Part{{Session: s, Batch: in}}
			if !cacheOnly {
				parts[0].Out = make([]float32, frag.OutputSize(len(prompt), false))
			}
			if beside {
				other, _ := frag.NewSession(16)
				defer other.Close()
				parts = append(parts, engine.Part{Session: other, Batch: second, Out: make([]float32, frag.OutputSize(len(next), false))})
			}
			b.attentions = 0
			if err := frag.ForwardMany(parts); err != nil {
				t.Fatal(err)
			}
			attentions := b.attentions
			out := make([]float32, frag.OutputSize(len(next), false))
			if err := frag.Forward(out, s, second); err != nil {
				t.Fatal(err)
			}
			return out, attentions
		}
		want, full := continued(false, false)
		got, short := continued(true, false)
		if !slices.Equal(got, want) {
			t.Errorf("layers %d-%d: the output after a CacheOnly batch differs", r[0], r[1]-1)
		}
		// Five positions in batches of 4 are two passes.
		if n := r[1] - r[0]; full != 2*n || short != 2*(n-1) {
			t.Errorf("layers %d-%d: %d attentions for the full batch and %d for CacheOnly, want %d and %d", r[0], r[1]-1, full, short, 2*n, 2*(n-1))
		}
		if got, _ := continued(true, true); !slices.Equal(got, want) {
			t.Errorf("layers %d-%d: the output after a CacheOnly batch beside another part differs", r[0], r[1]-1)
		}
		frag.Close()
	}

}
