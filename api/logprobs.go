package api

import (
	"math"

	"strata/engine"
)

// logprobsOf returns the log probability of tok under the model's
// distribution (the softmax of the raw logits, before any penalty or
// truncation) and the top n alternatives, best first.
func logprobsOf(v *engine.Vocab, logits []float32, tok int32, n int) tokenLogprob {
	best := math.Inf(-1)
	for _, x := range logits {
		if x := float64(x); x > best {
			best = x
		}
	}
	var sum float64
	for _, x := range logits {
		sum += math.Exp(float64(x) - best)
	}
	norm := best + math.Log(sum)
	lp := func(id int32) float64 { return float64(logits[id]) - norm }
	out := tokenLogprob{Token: v.Piece(tok), Logprob: lp(tok), Bytes: bytesOf(v.Piece(tok)), TopLogprobs: []topLogprob{}}
	if n > 0 {
		for _, id := range engine.TopK(make([]int32, 0, n), logits, n) {
			p := v.Piece(id)
			out.TopLogprobs = append(out.TopLogprobs, topLogprob{Token: p, Logprob: lp(id), Bytes: bytesOf(p)})
		}
	}
	return out
}

func bytesOf(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}
