package transport

import (
	"context"
	"fmt"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
)

// BenchmarkDecode times greedy decode steps of the tiny model in one
// process and through 2 and 3 peers on loopback, every peer and the local
// run on one CPU thread. It reports tokens/s, the bytes each hop receives per token,
// and what zstd made of the activations (sent/raw).
func BenchmarkDecode(b *testing.B) {
	prompt := []int32{1, 9038, 2501, 263, 931, 29892, 727, 471}
	b.Run("local", func(b *testing.B) {
		f, err := gguf.Open(tinyModel)
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
		b.ResetTimer()
		for b.Loop() {
			if s.Pos() >= 4000 {
				s.Truncate(len(prompt))
			}
			s.Eval(logits, tok)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	for _, split := range []struct {
		name   string
		ranges [][2]int
	}{
		{"2peers", [][2]int{{0, 2}, {2, 4}}},
		{"3peers", [][2]int{{0, 1}, {1, 3}, {3, 4}}},
	} {
		for _, wire := range []Wire{WireF32, WireF16} {
			b.Run(fmt.Sprintf("%s/%v", split.name, wire), func(b *testing.B) {
				dir, m := splitTiny(b, split.ranges)
				swarm := testSwarm(b)
				var addrs []string
				for i := range m.Fragments {
					addrs = append(addrs, startPeer(b, dir, m, i, swarm).addr)
				}
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
					if r.Pos() >= 500 {
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
				for h := 1; h < len(after); h++ {
					raw += after[h].Raw - before[h].Raw
					sent += after[h].Sent - before[h].Sent
				}
				if steps > 0 {
					b.ReportMetric(float64(sent)/float64(steps)/float64(len(after)-1), "B/token/hop")
					b.ReportMetric(float64(sent)/float64(max(raw, 1)), "zstd-sent/raw")
				}
			})
		}
	}
}
