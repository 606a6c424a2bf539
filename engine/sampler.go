package engine

import (
	"math"
	"math/rand/v2"
	"slices"
)

// SamplerOptions choose how the next token is drawn from the logits. The
// zero value is greedy decoding (the most likely token, always).
type SamplerOptions struct {
	Temperature   float32 // 0 or less: greedy
	TopK          int     // keep the K most likely tokens; 0: all
	TopP          float32 // keep the smallest set whose probability reaches P; 0 or 1: all
	MinP          float32 // drop tokens less likely than MinP × the best; 0: none
	RepeatPenalty float32 // divide the logits of recent tokens by this; 0 or 1: none
	RepeatLastN   int     // how many recent tokens the penalty looks at
	Seed          uint64  // the random stream; the same seed gives the same tokens
}

// A Sampler draws tokens. It keeps its scratch space between calls, so
// sampling allocates nothing.
type Sampler struct {
	o          SamplerOptions
	rng        *rand.Rand
	candidates []candidate
	penalized  []bool
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
		candidates: make([]candidate, 0, n),
		penalized:  make([]bool, n),
	}
}

// Sample picks the next token from logits (modified in place by the
// repetition penalty) given the tokens so far. The steps run in
// llama.cpp's order: penalty, top-k, top-p, min-p, temperature.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	o := &s.o
	if recent := s.recent(history); len(recent) > 0 {
		for _, id := range recent {
			if id < 0 || int(id) >= len(logits) || s.penalized[id] {
				continue
			}
			s.penalized[id] = true
			if logits[id] > 0 {
				logits[id] /= o.RepeatPenalty
			} else {
				logits[id] *= o.RepeatPenalty
			}
		}
		for _, id := range recent {
			if id >= 0 && int(id) < len(logits) {
				s.penalized[id] = false
			}
		}
	}
	if o.Temperature <= 0 {
		return int32(argmax(logits))
	}

	c := s.topK(logits)
	// Probabilities before temperature, for top-p and min-p.
	softmax(c, 1)
	if o.TopP > 0 && o.TopP < 1 {
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
	r := s.rng.Float64()
	for i := range c {
		r -= c[i].p
		if r < 0 {
			return c[i].id
		}
	}
	return c[len(c)-1].id
}

// topK returns the K best candidates (all when K is 0), best first.
func (s *Sampler) topK(logits []float32) []candidate {
	k := s.o.TopK
	if k <= 0 || k > len(logits) {
		k = len(logits)
	}
	c := s.candidates[:0]
	if k == len(logits) {
		for i, l := range logits {
			c = append(c, candidate{id: int32(i), logit: l})
		}
	} else {
		// A min-heap of the k best so far: c[0] is the weakest.
		for i, l := range logits {
			if len(c) < k {
				c = append(c, candidate{id: int32(i), logit: l})
				siftUp(c, len(c)-1)
			} else if l > c[0].logit {
				c[0] = candidate{id: int32(i), logit: l}
				siftDown(c, 0)
			}
		}
	}
	slices.SortFunc(c, func(a, b candidate) int {
		switch {
		case a.logit > b.logit:
			return -1
		case a.logit < b.logit:
			return 1
		}
		return int(a.id - b.id)
	})
	s.candidates = c
	return c
}

func siftUp(h []candidate, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].logit <= h[i].logit {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(h []candidate, i int) {
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].logit < h[m].logit {
			m = l
		}
		if r < len(h) && h[r].logit < h[m].logit {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// softmax sets p of sorted candidates from logit/temperature.
func softmax(c []candidate, temperature float32) {
	top := float64(c[0].logit)
	var sum float64
	for i := range c {
		c[i].p = math.Exp((float64(c[i].logit) - top) / float64(temperature))
		sum += c[i].p
	}
	for i := range c {
		c[i].p /= sum
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
