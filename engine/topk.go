package engine

import (
	"math"
	"slices"
)

// TopK returns the ids of the k largest logits, best first, in the
// storage of ids (grown as needed); k of 0 or less, or past the logits,
// returns every id in that order.
//
// The order is total: a larger logit comes first; of equal logits, the
// lower id; NaN counts as −∞. The sampler ranks by it, and the last peer
// of a route chooses by it which logits to send, so that the two agree on
// every tie.
func TopK(ids []int32, logits []float32, k int) []int32 {
	n := len(logits)
	if k <= 0 || k > n {
		k = n
	}
	ids = ids[:0]
	for id := range int32(k) {
		ids = append(ids, id)
	}
	if k < n {
		// The k best so far, the weakest on top.
		h := minHeap[int32]{items: ids, less: func(a, b int32) bool { return ranksAbove(logits, b, a) }}
		h.init()
		// The ids come in increasing order, so one ranks above the
		// weakest only by a greater value (a tie goes to the lower id,
		// there already); NaN is never greater.
		weakest := rankValue(logits[h.top()])
		for id := int32(k); id < int32(n); id++ {
			if logits[id] > weakest {
				h.replaceTop(id)
				weakest = rankValue(logits[h.top()])
			}
		}
	}
	slices.SortFunc(ids, func(a, b int32) int {
		switch {
		case a == b:
			return 0
		case ranksAbove(logits, a, b):
			return -1
		}
		return 1
	})
	return ids
}

var negInf = float32(math.Inf(-1))

// ranksAbove reports whether token a comes before token b in TopK's order.
func ranksAbove(logits []float32, a, b int32) bool {
	x, y := rankValue(logits[a]), rankValue(logits[b])
	return x > y || x == y && a < b
}

// rankValue is the value a logit ranks by, and the sampler draws by: NaN
// is −∞, other values themselves.
func rankValue(x float32) float32 {
	if x != x {
		return negInf
	}
	return x
}
