package cpu

import (
	"math"
	"testing"
)

// TestRowsVariants checks every variant's row products and row sums
// against the pure-Go ones, bit for bit, over head sizes that the
// assembly takes and some it leaves to the generic loop.
func TestRowsVariants(t *testing.T) {
	rng := newRNG(t)
	random := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	for _, v := range supportedVariants() {
		dot, sum := dotRowss(v), axpyRowss(v)
		for _, hd := range []int{16, 32, 64, 96, 100, 128, 144, 256, 272} {
			for _, rows := range []int{0, 1, 2, 7, 33} {
				for _, stride := range []int{hd, 4*hd + 16} {
					q, k := random(hd), random(rows*stride+hd)
					got, want := make([]float32, rows), make([]float32, rows)
					dot(got, k, stride, q)
					dotRowsOf(pairDot)(want, k, stride, q)
					for p := range got {
						if math.Float32bits(got[p]) != math.Float32bits(want[p]) {
							t.Fatalf("%v dot rows hd %d row %d of %d: %v, generic %v", v, hd, p, rows, got[p], want[p])
						}
					}
					w, o := random(rows), random(hd)
					gotO, wantO := append([]float32(nil), o...), append([]float32(nil), o...)
					sum(gotO, k, stride, w)
					axpyRowsOf(axpy)(wantO, k, stride, w)
					for i := range gotO {
						if math.Float32bits(gotO[i]) != math.Float32bits(wantO[i]) {
							t.Fatalf("%v axpy rows hd %d element %d, %d rows: %v, generic %v", v, hd, i, rows, gotO[i], wantO[i])
						}
					}
				}
			}
		}
	}
}
