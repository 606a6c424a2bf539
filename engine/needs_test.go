package engine_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"strata/engine"
)

// TestNeedsAreEnough: sampling from logits that keep only what Needs asks
// for (the rest −∞) draws the same tokens as sampling from all of them.
func TestNeedsAreEnough(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const vocab = 500
	for _, o := range []engine.SamplerOptions{
		{},
		{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05},
		{Temperature: 0.8, TopK: 40}, // top-p 0: the best token alone
		{Temperature: 1.2, TopK: 5, TopP: 1},
		{Temperature: 0, RepeatPenalty: 1.3, RepeatLastN: 16},
		{Temperature: 0.7, TopK: 20, TopP: 1, RepeatPenalty: 1.5, RepeatLastN: 8},
		{Temperature: 0.7, TopK: 20, TopP: 1, RepeatPenalty: 0.7, RepeatLastN: 8},
		{Temperature: 0, FrequencyPenalty: 1.5, RepeatLastN: 32},
		{Temperature: 0.9, TopK: 10, TopP: 1, FrequencyPenalty: 0.8, PresencePenalty: 0.5, RepeatLastN: -1},
		{Temperature: 0.9, TopK: 10, TopP: 1, FrequencyPenalty: -0.8, PresencePenalty: -1, RepeatLastN: 16},
		{Temperature: 0.6, TopK: 30, TopP: 1, RepeatPenalty: 1.2, PresencePenalty: 2, RepeatLastN: 64},
	} {
		o.Seed = rng.Uint64()
		full, sparse := engine.NewSampler(o, vocab), engine.NewSampler(o, vocab)
		var history []int32
		for step := range 200 {
			logits := make([]float32, vocab)
			for i := range logits {
				logits[i] = float32(rng.NormFloat64() * 3)
				if rng.IntN(10) == 0 && i > 0 {
					logits[i] = logits[i-1] // ties
				}
			}
			need := sparse.Needs(history)
			kept := slices.Clone(logits)
			if need.TopK > 0 {
				order := make([]int, vocab)
				for i := range order {
					order[i] = i
				}
				slices.SortStableFunc(order, func(a, b int) int {
					if logits[a] != logits[b] {
						if logits[a] > logits[b] {
							return -1
						}
						return 1
					}
					return a - b
				})
				keep := map[int]bool{}
				for _, i := range order[:need.TopK] {
					keep[i] = true
				}
				for _, id := range need.Also {
					keep[int(id)] = true
				}
				for i := range kept {
					if !keep[i] {
						kept[i] = float32(math.Inf(-1))
					}
				}
			}
			a := full.Sample(logits, history)
			b := sparse.Sample(kept, history)
			if a != b {
				t.Fatalf("%+v step %d: all logits draw %d, the needed ones %d", o, step, a, b)
			}
			history = append(history, a)
		}
	}
}
