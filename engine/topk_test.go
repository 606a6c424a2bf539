package engine_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"strata/engine"
	"strata/internal/testseed"
)

// TestTopK: the k largest logits, best first; of equal logits the lower
// id first; NaN as −∞.
func TestTopK(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, c := range []struct {
		name   string
		logits []float32
		k      int
		want   []int32
	}{
		{"[1 1 2], k 2", []float32{1, 1, 2}, 2, []int32{2, 0}},
		{"[2 1 1], k 2", []float32{2, 1, 1}, 2, []int32{0, 1}},
		{"a tie while the heap fills", []float32{1, 1, 1, 2, 0}, 2, []int32{3, 0}},
		{"a tie after it is full", []float32{0, 3, 1, 1, 2, 1}, 3, []int32{1, 4, 2}},
		{"all tied", []float32{5, 5, 5, 5, 5}, 3, []int32{0, 1, 2}},
		{"k 1", []float32{1, 3, 3}, 1, []int32{1}},
		{"k 0: all", []float32{1, 3, 3, 2}, 0, []int32{1, 2, 3, 0}},
		{"k past the end: all", []float32{1, 3}, 9, []int32{1, 0}},
		{"NaN ranks as −∞", []float32{nan, -inf, 0, nan}, 3, []int32{2, 0, 1}},
		{"infinities", []float32{0, inf, -inf, inf}, 2, []int32{1, 3}},
		{"−0 ties +0", []float32{float32(math.Copysign(0, -1)), 0}, 1, []int32{0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := engine.TopK(nil, c.logits, c.k); !slices.Equal(got, c.want) {
				t.Errorf("TopK(%v, %d) = %v, want %v", c.logits, c.k, got, c.want)
			}
		})
	}
}

// TestTopKRandom: TopK against a sort of every id by its order, on
// fresh random logits with ties, infinities and NaN.
func TestTopKRandom(t *testing.T) {
	rng := testseed.New(t)
	values := []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), 0, 1, -1}
	for range 500 {
		logits := make([]float32, 1+rng.IntN(300))
		for i := range logits {
			if rng.IntN(4) == 0 {
				logits[i] = values[rng.IntN(len(values))]
			} else {
				logits[i] = float32(rng.IntN(20)) / 4
			}
		}
		all := make([]int32, len(logits))
		for i := range all {
			all[i] = int32(i)
		}
		rank := func(v float32) float32 {
			if v != v {
				return float32(math.Inf(-1))
			}
			return v
		}
		slices.SortStableFunc(all, func(a, b int32) int {
			x, y := rank(logits[a]), rank(logits[b])
			switch {
			case x > y:
				return -1
			case x < y:
				return 1
			}
			return 0
		})
		k := rng.IntN(len(logits) + 2)
		want := all
		if k > 0 && k < len(all) {
			want = all[:k]
		}
		if got := engine.TopK(nil, logits, k); !slices.Equal(got, want) {
			t.Fatalf("TopK(%v, %d) = %v, want %v", logits, k, got, want)
		}
	}
}

// TestSampleAllocatesNothing: a sampler draws from its own scratch.
func TestSampleAllocatesNothing(t *testing.T) {
	logits := make([]float32, 1000)
	for i := range logits {
		logits[i] = float32(i % 17)
	}
	history := []int32{3, 4, 5}
	for _, o := range []engine.SamplerOptions{
		{},
		{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1.1, RepeatLastN: 64},
		{Temperature: 0.8, TopP: 1},
	} {
		s := engine.NewSampler(o, len(logits))
		if n := testing.AllocsPerRun(20, func() { s.Sample(logits, history) }); n != 0 {
			t.Errorf("%+v: %v allocations a token", o, n)
		}
	}
}

// TestTopPZero: top-p 0 keeps the best token alone, as in llama.cpp (the
// smallest set whose probability reaches 0), whatever the temperature
// and the seed; a tiny top-p above 0 keeps the same one token.
func TestTopPZero(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	logits := make([]float32, 300)
	for trial := range 50 {
		for i := range logits {
			logits[i] = float32(rng.NormFloat64())
		}
		best := engine.TopK(nil, logits, 1)[0]
		for _, p := range []float32{0, 1e-6} {
			o := engine.SamplerOptions{Temperature: 2, TopP: p, Seed: uint64(trial)}
			if got := engine.NewSampler(o, len(logits)).Sample(slices.Clone(logits), nil); got != best {
				t.Fatalf("trial %d, top-p %g: drew %d, want the best token %d", trial, p, got, best)
			}
		}
	}
	// Top-p 1 keeps them all: at temperature 2 the draws differ.
	drawn := map[int32]bool{}
	for seed := range uint64(64) {
		o := engine.SamplerOptions{Temperature: 2, TopP: 1, Seed: seed}
		drawn[engine.NewSampler(o, len(logits)).Sample(slices.Clone(logits), nil)] = true
	}
	if len(drawn) < 2 {
		t.Errorf("top-p 1 drew one token over 64 seeds")
	}
}

// TestTopKOne: greedy decoding's TopK of 1 against a scan for the first
// id of the largest rank, on fresh random logits with ties, infinities
// and NaN, of every length around the scan's blocks of eight.
func TestTopKOne(t *testing.T) {
	rng := testseed.New(t)
	values := []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), 0, float32(math.Copysign(0, -1)), 1, -1}
	for n := 1; n < 300; n++ {
		for range 10 {
			logits := make([]float32, n)
			for i := range logits {
				if rng.IntN(3) == 0 {
					logits[i] = values[rng.IntN(len(values))]
				} else {
					logits[i] = float32(rng.IntN(8)) / 4
				}
			}
			want, top := int32(0), float32(math.Inf(-1))
			for i, v := range logits {
				if v == v && v > top {
					want, top = int32(i), v
				}
			}
			if got := engine.TopK(nil, logits, 1); len(got) != 1 || got[0] != want {
				t.Fatalf("TopK(%v, 1) = %v, want [%d]", logits, got, want)
			}
		}
	}
}
