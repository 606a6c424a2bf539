package engine_test

import (
	"testing"

	"strata/engine"
)

// TestPenalties: the frequency penalty lowers a recent token's logit once
// per occurrence in the window, the presence penalty once, after the
// repetition penalty, as in llama.cpp; tokens outside the window are left
// alone.
func TestPenalties(t *testing.T) {
	base := []float32{0, 4, 3.5, 1, -2}
	for _, c := range []struct {
		name string
		o    engine.SamplerOptions
		want []float32
	}{
		{"frequency", engine.SamplerOptions{FrequencyPenalty: 0.5, RepeatLastN: -1}, []float32{0, 4 - 1.5, 3.5, 1 - 0.5, -2}},
		{"presence", engine.SamplerOptions{PresencePenalty: 0.25, RepeatLastN: -1}, []float32{0, 4 - 0.25, 3.5, 1 - 0.25, -2}},
		{"both after repeat", engine.SamplerOptions{RepeatPenalty: 2, FrequencyPenalty: 0.5, PresencePenalty: 0.25, RepeatLastN: -1},
			[]float32{0, 4.0/2 - 1.5 - 0.25, 3.5, 1.0/2 - 0.5 - 0.25, -2}},
		{"window", engine.SamplerOptions{FrequencyPenalty: 1, RepeatLastN: 2}, []float32{0, 4 - 2, 3.5, 1, -2}},
		{"negative raises", engine.SamplerOptions{PresencePenalty: -3, RepeatLastN: -1}, []float32{0, 7, 3.5, 4, -2}},
	} {
		logits := append([]float32(nil), base...)
		history := []int32{3, 1, 1, 1}
		s := engine.NewSampler(c.o, len(logits))
		got := s.Sample(logits, history)
		for i := range logits {
			if logits[i] != c.want[i] {
				t.Errorf("%s: logits %v, want %v", c.name, logits, c.want)
				break
			}
		}
		best := int32(0)
		for i := range c.want {
			if c.want[i] > c.want[best] {
				best = int32(i)
			}
		}
		if got != best {
			t.Errorf("%s: greedy drew %d, want %d", c.name, got, best)
		}
		// A second call sees clean counts: the same logits again.
		again := append([]float32(nil), base...)
		s.Sample(again, history)
		for i := range again {
			if again[i] != c.want[i] {
				t.Errorf("%s: second call gives %v, want %v", c.name, again, c.want)
				break
			}
		}
	}
}
