package transport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"strata/cpu"
	"strata/engine"
	"strata/engine/testmodel"
	"strata/gguf"
)

// benchModels are the models BenchmarkDecode runs: the tiny test model
// (a decode step of about 10 ms on one thread) and a wider random one
// (about 6× the weights), to show how the network's fixed cost per hop
// weighs against more compute.
var benchModels = []struct {
	name  string
	path  func(b *testing.B) string
	two   [][2]int
	three [][2]int
}{
	{"tiny", func(*testing.B) string { return tinyModel },
		[][2]int{{0, 2}, {2, 4}}, [][2]int{{0, 1}, {1, 3}, {3, 4}}},
	{"wide", func(b *testing.B) string {
		data, err := testmodel.Build(testmodel.Spec{Layers: 6, Embedding: 1024, FeedForward: 2816, Heads: 8, KVHeads: 2,
			HeadDim: 128, Vocab: 32000, Context: 4096, RopeBase: 1e6, NormEps: 1e-5, Seed: 9,
			Types: map[string]gguf.TensorType{"output": gguf.Q6_K, "attn_v": gguf.Q6_K, "ffn_down": gguf.Q6_K}})
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(b.TempDir(), "wide.gguf")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		return p
	}, [][2]int{{0, 3}, {3, 6}}, [][2]int{{0, 2}, {2, 4}, {4, 6}}},
}

// benchPositions bounds the positions every run decodes at: each starts
// again from the prompt there, so that the local run and the routes attend
// over the same lengths whatever b.N is (the local run went on to 4000
// while the routes stopped at 500, so the ratio moved with -benchtime).
const benchPositions = 500

// BenchmarkDecode times greedy decode steps in one process and through 2
// and 3 peers on loopback, every peer and the local run on one CPU
// thread. It reports tokens/s, the bytes each hop receives per token, and
// what zstd made of the activations (sent/raw).
func BenchmarkDecode(b *testing.B) {
	prompt := []int32{1, 9038, 2501, 263, 931, 29892, 727, 471}
	for _, model := range benchModels {
		b.Run(model.name, func(b *testing.B) { benchDecode(b, model.path(b), prompt, model.two, model.three) })
	}
}

func benchDecode(b *testing.B, path string, prompt []int32, two, three [][2]int) {
	b.Run("local", func(b *testing.B) {
		f, err := gguf.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		be := cpu.New(cpu.Options{Threads: 1})
		defer be.Close()
		frag, _ := engine.NewFragment(f, be, engine.FragmentOptions{})
		s, _ := frag.NewSession(4096)
		logits := make([]float32, frag.Config.Vocab)
		s.Eval(logits, prompt)
		tok := []int32{263}
		var ids []int32
		b.ResetTimer()
		for b.Loop() {
			if s.Pos() >= benchPositions {
				s.Truncate(len(prompt))
			}
			s.Eval(logits, tok)
			// Greedy decoding picks the token here, as the sampler does; the
			// routes ask their last peer for it (TopK 1).
			ids = engine.TopK(ids[:0], logits, 1)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	for _, split := range []struct {
		name   string
		ranges [][2]int
	}{{"2peers", two}, {"3peers", three}} {
		for _, wire := range []Wire{WireF32, WireF16} {
			b.Run(fmt.Sprintf("%s/%v", split.name, wire), func(b *testing.B) {
				dir, m := splitModel(b, path, split.ranges)
				swarm := testSwarm(b)
				addrs := startPeers(b, dir, m, swarm)
				r, err := NewRoute(context.Background(), addrs, RouteOptions{DialOptions: dialOptions(b, swarm), Wire: wire, Logger: quiet})
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				logits := make([]float32, r.VocabSize())
				r.Eval(logits, prompt)
				before := r.Stats()
				tok := []int32{263}
				b.ResetTimer()
				for b.Loop() {
					if r.Pos() >= benchPositions {
						b.StopTimer()
						r.Close()
						if r, err = NewRoute(context.Background(), addrs, RouteOptions{DialOptions: dialOptions(b, swarm), Wire: wire, Logger: quiet}); err != nil {
							b.Fatal(err)
						}
						r.Eval(logits, prompt)
						before = r.Stats()
						b.StartTimer()
					}
					r.NeedLogits(engine.LogitsNeeds{TopK: 1}) // greedy decoding, as Generate asks
					if err := r.Eval(logits, tok); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
				after := r.Stats()
				steps := after[1].Forwards - before[1].Forwards
				var raw, sent int64
				var overhead time.Duration // wall time a hop took beyond its peer's compute
				for h := range after {
					overhead += after[h].Wall - before[h].Wall - (after[h].Compute - before[h].Compute)
					if h > 0 {
						raw += after[h].Raw - before[h].Raw
						sent += after[h].Sent - before[h].Sent
					}
				}
				if steps > 0 {
					b.ReportMetric(float64(overhead.Microseconds())/float64(steps)/float64(len(after)), "µs/hop")
					b.ReportMetric(float64(sent)/float64(steps)/float64(len(after)-1), "B/token/hop")
					b.ReportMetric(float64(sent)/float64(max(raw, 1)), "zstd-sent/raw")
				}
			})
		}
	}
}
