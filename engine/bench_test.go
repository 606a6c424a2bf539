package engine_test

import (
	"os"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
)

// benchFragment loads the tiny model, or the GGUF file named by
// STRATA_BENCH_MODEL (a synthetic 7B from tools/synth, say), on the CPU.
func benchFragment(b *testing.B) *engine.Fragment {
	f := openTiny(b)
	if path := os.Getenv("STRATA_BENCH_MODEL"); path != "" {
		var err error
		if f, err = gguf.Open(path); err != nil {
			b.Fatal(err)
		}
	}
	be := cpu.New(cpu.Options{Kernels: os.Getenv("STRATA_CPU")})
	b.Cleanup(func() { be.Close() })
	frag, err := engine.NewFragment(f, be, engine.FragmentOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return frag
}

// BenchmarkDecode is one decode step at positions 3 to 66, as llama-bench's
// tg64 generates, on the CPU.
func BenchmarkDecode(b *testing.B) {
	frag := benchFragment(b)
	s, err := frag.NewSession(2048)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	out := make([]float32, frag.OutputSize(1, false))
	if err := frag.Forward(out, s, engine.Batch{Tokens: []int32{1, 415, 2936}}); err != nil {
		b.Fatal(err)
	}
	step := engine.Batch{Tokens: []int32{415}}
	b.ReportAllocs()
	for b.Loop() {
		if s.Pos() >= 67 {
			s.Truncate(3)
		}
		if err := frag.Forward(out, s, step); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkPrompt is a prompt of 128 tokens, on the CPU.
func BenchmarkPrompt(b *testing.B) {
	frag := benchFragment(b)
	s, err := frag.NewSession(256)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tokens := make([]int32, 128)
	for i := range tokens {
		tokens[i] = int32(100 + i)
	}
	out := make([]float32, frag.OutputSize(len(tokens), false))
	for b.Loop() {
		s.Truncate(0)
		if err := frag.Forward(out, s, engine.Batch{Tokens: tokens}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(tokens)*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkDecodeLong is a decode step at positions 2000 to 2063, after a
// prompt of 2000, on the CPU: where attention over the cache weighs as
// much as the weights.
func BenchmarkDecodeLong(b *testing.B) {
	frag := benchFragment(b)
	s, err := frag.NewSession(4096)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	out := make([]float32, frag.OutputSize(1, false))
	prompt := make([]int32, 2000)
	for i := range prompt {
		prompt[i] = int32(100 + i%1000)
	}
	if err := frag.Forward(make([]float32, frag.OutputSize(len(prompt), false)), s, engine.Batch{Tokens: prompt}); err != nil {
		b.Fatal(err)
	}
	step := engine.Batch{Tokens: []int32{415}}
	for b.Loop() {
		if s.Pos() >= 2064 {
			s.Truncate(2000)
		}
		if err := frag.Forward(out, s, step); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
