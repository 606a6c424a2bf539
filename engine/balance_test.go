package engine

import (
	"math/rand/v2"
	"testing"
)

// bruteBalance tries every cut of len(layers) layers into parts ranges
// and returns the least largest cost.
func bruteBalance(layers []int64, embed, head int64, parts int) partCost {
	n := len(layers)
	var best partCost
	found := false
	var try func(start, k int, cur partCost)
	try = func(start, k int, cur partCost) {
		if k == parts-1 { // the last part is [start, n)
			c := partCost{}
			for _, b := range layers[start:] {
				c.read += b
			}
			c.read += head
			c.held = c.read
			if start == 0 {
				c.held += embed
			}
			if c := worse(cur, c); !found || c.less(best) {
				best, found = c, true
			}
			return
		}
		var c partCost
		for end := start + 1; end <= n-(parts-1-k); end++ {
			c.read += layers[end-1]
			c.held = c.read
			if start == 0 {
				c.held += embed
			}
			try(end, k+1, worse(cur, c))
		}
	}
	try(0, 0, partCost{})
	return best
}

// TestBalanceExhaustive checks balance against every cut on random
// layer sizes, and that its ranges cover the layers in order.
func TestBalanceExhaustive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, uint64(rand.Int64())))
	for range 500 {
		n := 1 + r.IntN(9)
		parts := 1 + r.IntN(n)
		layers := make([]int64, n)
		for i := range layers {
			layers[i] = 1 + r.Int64N(6) // small, so that ties happen
		}
		embed, head := r.Int64N(10), r.Int64N(20)
		ranges, err := balance(layers, embed, head, parts)
		if err != nil {
			t.Fatal(err)
		}
		if len(ranges) != parts || ranges[0][0] != 0 || ranges[parts-1][1] != n {
			t.Fatalf("%v into %d parts: %v", layers, parts, ranges)
		}
		var got partCost
		for i, rg := range ranges {
			if rg[0] >= rg[1] || i > 0 && rg[0] != ranges[i-1][1] {
				t.Fatalf("%v into %d parts: %v", layers, parts, ranges)
			}
			c := partCost{}
			for _, b := range layers[rg[0]:rg[1]] {
				c.read += b
			}
			if rg[1] == n {
				c.read += head
			}
			c.held = c.read
			if rg[0] == 0 {
				c.held += embed
			}
			got = worse(got, c)
		}
		if want := bruteBalance(layers, embed, head, parts); got != want {
			t.Fatalf("%v (embed %d, head %d) into %d parts: %v costs %+v, the best cut %+v", layers, embed, head, parts, ranges, got, want)
		}
	}
}

func TestBalanceRefused(t *testing.T) {
	for _, parts := range []int{0, -1, 5} {
		if _, err := balance([]int64{1, 2, 3, 4}, 0, 0, parts); err == nil {
			t.Errorf("4 layers into %d parts: no error", parts)
		}
	}
}
