package engine

import (
	"math"
	"math/rand/v2"
)

// SamplerOptions choose how the next token is drawn from the logits. The
// zero value is greedy decoding (the most likely token, always).
type SamplerOptions struct {
	Temperature   float32 // 0 or less: greedy
	TopK          int     // keep the K most likely tokens; 0: all
	TopP          float32 // keep the smallest set whose probability reaches P (0: the best token alone, as llama.cpp); 1 or more: all
	MinP          float32 // drop tokens less likely than MinP × the best; 0: none
	RepeatPenalty float32 // divide the logits of recent tokens by this; 0 or 1: none
	RepeatLastN   int     // how many recent tokens the penalties look at (-1: all)
	// FrequencyPenalty is subtracted from a recent token's logit once per
	// time it occurs, PresencePenalty once if it occurs at all (OpenAI's
	// frequency_penalty and presence_penalty); 0: none.
	FrequencyPenalty float32
	PresencePenalty  float32
	Seed             uint64 // the random stream; the same seed gives the same tokens
}

// A Sampler draws tokens. It keeps its scratch space between calls, so
// sampling allocates nothing.
type Sampler struct {
	o          SamplerOptions
	rng        *rand.Rand
	ids        []int32
	candidates []candidate
	counts     []int32 // occurrences among the recent tokens; zero between calls
}

type candidate struct {
	id    int32
	logit float32
	p     float64
}

// NewSampler returns a sampler for a vocabulary of n tokens.
func NewSampler(o SamplerOptions, n int) *Sampler {
	return &Sampler{
		o:          o,
		rng:        rand.New(rand.NewPCG(o.Seed, 0x5eed_57a7a)),
		ids:        make([]int32, 0, n),
		candidates: make([]candidate, 0, n),
		counts:     make([]int32, n),
	}
}

// Sample picks the next token from logits (modified in place by the
// penalties) given the tokens so far. The steps run in llama.cpp's order:
// penalties, top-k, top-p, min-p, temperature. Tokens
// are ranked as TopK ranks them (of equal logits the lower id first, NaN
// as −∞), so that logits cut to what Needs asks for give the same token.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	o := &s.o
	if recent := s.recent(history); len(recent) > 0 {
		s.penalize(logits, recent)
	}
	if o.Temperature <= 0 || o.TopP <= 0 {
		// Greedy; top-p 0 keeps the best token alone (the smallest set
		// whose probability reaches 0), ranked as TopK ranks it.
		s.ids = TopK(s.ids, logits, 1)
		return s.ids[0]
	}

	c := s.topK(logits)
	// Probabilities before temperature, for top-p and min-p.
	softmax(c, 1)
	if o.TopP < 1 {
		var sum float64
		for i := range c {
			sum += c[i].p
			if sum >= float64(o.TopP) {
				c = c[:i+1]
				break
			}
		}
	}
	if o.MinP > 0 {
		floor := float64(o.MinP) * c[0].p
		for i := range c {
			if c[i].p < floor {
				c = c[:max(i, 1)]
				break
			}
		}
	}
	softmax(c, o.Temperature)
	// Rounding can leave r past the end: the last token that can be drawn
	// (p > 0, a prefix of c) then takes it.
	r := s.rng.Float64()
	i := 0
	for ; i < len(c)-1 && c[i+1].p > 0; i++ {
		if r -= c[i].p; r < 0 {
			break
		}
	}
	return c[i].id
}

// penalize applies the penalties to the logits of the recent tokens, as
// llama.cpp does: the repetition penalty divides a positive logit (and
// multiplies a negative one), then count × FrequencyPenalty +
// PresencePenalty is subtracted.
func (s *Sampler) penalize(logits []float32, recent []int32) {
	o := &s.o
	valid := func(id int32) bool { return id >= 0 && int(id) < len(logits) }
	for _, id := range recent {
		if valid(id) {
			s.counts[id]++
		}
	}
	repeat := o.RepeatPenalty > 0 && o.RepeatPenalty != 1
	for _, id := range recent {
		if !valid(id) || s.counts[id] == 0 {
			continue
		}
		n := s.counts[id]
		s.counts[id] = 0
		if repeat {
			if logits[id] > 0 {
				logits[id] /= o.RepeatPenalty
			} else {
				logits[id] *= o.RepeatPenalty
			}
		}
		if o.FrequencyPenalty != 0 || o.PresencePenalty != 0 {
			logits[id] -= float32(n)*o.FrequencyPenalty + o.PresencePenalty
		}
	}
}

// topK returns the K best candidates (all when K is 0), best first.
func (s *Sampler) topK(logits []float32) []candidate {
	s.ids = TopK(s.ids, logits, s.o.TopK)
	c := s.candidates[:0]
	for _, id := range s.ids {
		c = append(c, candidate{id: id, logit: rankValue(logits[id])})
	}
	s.candidates = c
	return c
}

// softmax sets p of sorted candidates from logit/temperature. Those equal
// to the best share its weight even when it is infinite (every candidate
// when all are −∞).
func softmax(c []candidate, temperature float32) {
	top := c[0].logit
	var sum float64
	for i := range c {
		c[i].p = 1
		if c[i].logit != top {
			c[i].p = math.Exp((float64(c[i].logit) - float64(top)) / float64(temperature))
		}
		sum += c[i].p
	}
	for i := range c {
		c[i].p /= sum
	}
}
