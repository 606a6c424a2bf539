package transport

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/engine/testmodel"
	"strata/gguf"
)

func loadCases(t testing.TB) []testmodel.ReferenceCase {
	r, err := testmodel.LoadReference(filepath.Join("..", "testdata", "tiny-mistral"))
	if err != nil {
		t.Fatal(err)
	}
	return r.Cases
}

// localLogits runs tokens through the whole model in this process.
func localLogits(t testing.TB, tokens []int32) []float32 {
	f, err := gguf.Open(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := cpu.New(cpu.Options{})
	defer b.Close()
	frag, err := engine.NewFragment(f, b, engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := frag.NewSession(len(tokens))
	out := make([]float32, frag.Config.Vocab)
	for i := range tokens {
		if err := s.Eval(out, tokens[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestThreePeers: the tiny model split in three, one peer each, gives the
// reference's greedy tokens for every prompt, and the same logits as one
// process, bit for bit, with f32 on the wire.
func TestThreePeers(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 1}, {1, 3}, {3, 4}})
	swarm := testSwarm(t)
	addrs := startPeers(t, dir, m, swarm)
	for ci, c := range loadCases(t) {
		r, err := NewRoute(context.Background(), addrs, RouteOptions{DialOptions: dialOptions(t, swarm), Manifest: m, Chunk: 5})
		if err != nil {
			t.Fatal(err)
		}
		res, err := engine.Generate(context.Background(), r, c.PromptTokens,
			engine.GenerateOptions{MaxTokens: len(c.GreedyTokens), IgnoreEOS: true}, func(int32) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Tokens, c.GreedyTokens) {
			t.Errorf("case %d: got %v\nwant %v", ci, res.Tokens, c.GreedyTokens)
		}
		r.Close()
	}
	// Logits of one prompt through the peers and in one process.
	tokens := loadCases(t)[0].PromptTokens
	r, err := NewRoute(context.Background(), addrs, RouteOptions{DialOptions: dialOptions(t, swarm), Chunk: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]float32, r.VocabSize())
	if err := r.Eval(got, tokens); err != nil {
		t.Fatal(err)
	}
	if want := localLogits(t, tokens); !slices.Equal(got, want) {
		t.Error("logits through three peers differ from one process")
	}
}
