package engine

import (
	"fmt"

	"strata/gguf"
)

// BalancedRanges cuts the layers of the whole model f into parts ranges
// whose fragments cost as evenly as the layers allow. A fragment's cost is
// first the bytes it reads a token, its layers' weights and, in the last,
// the output norm and head: decode reads every weight once a token, so
// these bytes are its compute too. Among the cuts whose largest such cost
// is the least, it takes one whose largest fragment, the embedding counted
// in the first, is the smallest; ties are broken the same way every time.
// It reads tensor sizes only.
func BalancedRanges(f *gguf.File, parts int) ([][2]int, error) {
	c, err := ConfigFrom(f)
	if err != nil {
		return nil, err
	}
	layers := make([]int64, c.Layers)
	for l := range layers {
		layers[l] = WeightBytes(f, l, l+1, false, false)
	}
	return balance(layers, WeightBytes(f, 0, 0, true, false), WeightBytes(f, 0, 0, false, true), parts)
}

// A partCost is what balance compares parts by: the bytes a part reads a
// token, then the bytes it holds.
type partCost struct{ read, held int64 }

// less orders costs by read, then by held.
func (a partCost) less(b partCost) bool {
	return a.read < b.read || a.read == b.read && a.held < b.held
}

// worse returns the larger of a and b.
func worse(a, b partCost) partCost {
	if a.less(b) {
		return b
	}
	return a
}

// balance cuts len(layers) layers of the given bytes into parts ranges
// minimising the largest partCost, the first holding embed bytes more and
// the last reading and holding head bytes more. The largest cost is a
// bottleneck in a total order, so the best cut of the first i layers into
// k parts extends a best cut of a shorter prefix into k−1: a table of
// parts × layers entries, each the best over its last part's start.
func balance(layers []int64, embed, head int64, parts int) ([][2]int, error) {
	n := len(layers)
	if parts < 1 || parts > n {
		return nil, fmt.Errorf("engine: cannot cut %d layers into %d parts", n, parts)
	}
	prefix := make([]int64, n+1) // prefix[i]: the bytes of layers [0, i)
	for i, b := range layers {
		prefix[i+1] = prefix[i] + b
	}
	cost := func(start, end int) partCost {
		c := partCost{read: prefix[end] - prefix[start]}
		if end == n {
			c.read += head
		}
		c.held = c.read
		if start == 0 {
			c.held += embed
		}
		return c
	}
	// best[k][i] is the least largest cost of layers [0, i) in k+1 parts,
	// and from[k][i] where the last of them starts.
	best := make([][]partCost, parts)
	from := make([][]int, parts)
	for k := range parts {
		best[k], from[k] = make([]partCost, n+1), make([]int, n+1)
		for i := k + 1; i <= n-(parts-1-k); i++ {
			if k == 0 {
				best[k][i] = cost(0, i)
				continue
			}
			for j := k; j < i; j++ { // the last part is [j, i)
				c := worse(best[k-1][j], cost(j, i))
				if j == k || c.less(best[k][i]) {
					best[k][i], from[k][i] = c, j
				}
			}
		}
	}
	out := make([][2]int, parts)
	for k, end := parts-1, n; k >= 0; k-- {
		start := from[k][end]
		out[k] = [2]int{start, end}
		end = start
	}
	return out, nil
}
