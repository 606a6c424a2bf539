package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// integerInputs are input rows that probe the quantizer: Gaussian ones
// with heavy tails, one with an outlier a thousand times the rest, zeros,
// tiny (subnormal) values, huge ones, and a non-finite one.
func integerInputs(rng *rand.Rand, cols int) map[string][]float32 {
	rows := map[string][]float32{}
	gauss := func(f func(i int) float64) []float32 {
		x := make([]float32, cols)
		for i := range x {
			x[i] = float32(f(i))
		}
		return x
	}
	rows["gaussian"] = gauss(func(int) float64 { return rng.NormFloat64() * math.Exp(rng.NormFloat64()) })
	rows["outlier"] = gauss(func(i int) float64 {
		if i == 37 {
			return 1000
		}
		return rng.NormFloat64()
	})
	rows["zero block"] = gauss(func(i int) float64 {
		if i < superBlock {
			return 0
		}
		return rng.NormFloat64()
	})
	rows["tiny"] = gauss(func(int) float64 { return rng.NormFloat64() * 1e-42 })
	rows["huge"] = gauss(func(int) float64 { return rng.NormFloat64() * 1e36 })
	nan := gauss(func(int) float64 { return rng.NormFloat64() })
	nan[cols-3] = float32(math.Inf(-1))
	rows["infinite"] = nan
	return rows
}

// TestIntegerVariants runs every variant's integer kernels on fresh random
// rows and inputs against the pure-Go twin, bit for bit, one input at a
// time and all in one batch.
// variantRows is TestIntegerVariants' weight rows for rows of cols
// inputs: for 512, more than the amd64 kernels' tile of a prompt's rows
// (integerRows); for 256, more than a decode's (integerRows·integerTokens).
// TestIntegerTiles checks that they still are.
func variantRows(cols int) int {
	switch cols {
	case 256:
		return 2057
	case 512:
		return 137
	}
	return 37
}

func TestIntegerVariants(t *testing.T) {
	rng := newRNG(t)
	for _, typ := range integerTypes {
		for _, cols := range []int{256, 512, 4096, 14336} {
			t.Run(fmt.Sprintf("%v/%d", typ, cols), func(t *testing.T) {
				rows := variantRows(cols)
				rowBytes := typ.RowSize(cols)
				w := make([]byte, 0, rows*rowBytes)
				for range rows {
					w = append(w, randomRow(rng, typ, cols)...)
				}
				inputs := integerInputs(rng, cols)
				var names []string
				var x []float32
				for name, v := range inputs {
					names = append(names, name)
					x = append(x, v...)
				}
				for range 13 { // more inputs than a tile holds
					names = append(names, "gaussian")
					x = append(x, inputs["gaussian"]...)
				}
				n := len(names)
				var q quantBatch
				quantize(&q, x, n, cols)
				want := make([]float32, n*rows)
				genericIntegerKernels[typ](want, rows, w, rows, rowBytes, &q, nil)
				for _, v := range supportedVariants() {
					var scratch []float64
					got := make([]float32, n*rows)
					integerKernelOf(typ, v)(got, rows, w, rows, rowBytes, &q, &scratch)
					var one quantBatch
					alone := make([]float32, rows)
					for j := range n {
						quantize(&one, x[j*cols:(j+1)*cols], 1, cols)
						integerKernelOf(typ, v)(alone, rows, w, rows, rowBytes, &one, &scratch)
						for r := range rows {
							if g, a, w := got[j*rows+r], alone[r], want[j*rows+r]; math.Float32bits(g) != math.Float32bits(w) || math.Float32bits(a) != math.Float32bits(w) {
								t.Fatalf("%v input %d (%s) row %d: %v in a batch, %v alone, generic %v", v, j, names[j], r, g, a, w)
							}
						}
					}
				}
			})
		}
	}
}

// TestIntegerAccuracy checks the twins against the float64 product of the
// reference decoder and the unquantized input: within a few roundings of
// float32 of it, as exact arithmetic on the quantized input gives (NMSE
// about 1e-15, where the float route of pairDot gives about 5e-14).
func TestIntegerAccuracy(t *testing.T) {
	rng := newRNG(t)
	for _, typ := range integerTypes {
		const cols, rows = 4096, 16
		rowBytes := typ.RowSize(cols)
		w := make([]byte, 0, rows*rowBytes)
		for range rows {
			w = append(w, randomRow(rng, typ, cols)...)
		}
		for name, x := range integerInputs(rng, cols) {
			t.Run(fmt.Sprintf("%v/%s", typ, name), func(t *testing.T) {
				var q quantBatch
				quantize(&q, x, 1, cols)
				got := make([]float32, rows)
				genericIntegerKernels[typ](got, rows, w, rows, rowBytes, &q, nil)
				var errs, sig float64
				for r := range rows {
					// Each input is within half its super-block's step s_b of
					// X·s_b, and the result rounds to float32 (the lanes' sums
					// in float64 add nothing to see here).
					var want, bound float64
					for i := range cols {
						wi := refElement(typ, w[r*rowBytes:(r+1)*rowBytes], i)
						want += wi * float64(x[i])
						bound += math.Abs(wi) * q.scale[i/superBlock] / 2
					}
					g := float64(got[r])
					if name == "infinite" {
						if !math.IsNaN(g) {
							t.Fatalf("row %d: %v from an infinite input", r, g)
						}
						continue
					}
					slack := bound + 0x1p-23*math.Abs(want) + 0x1p-148
					if math.IsInf(g, 0) {
						// A product whose exact value may reach float32's
						// rounding threshold, 2^128 − 2^103, rounds to an
						// infinity of its sign; nothing else may.
						if math.Signbit(g) != math.Signbit(want) || math.Abs(want)+slack < 0x1p128-0x1p103 {
							t.Fatalf("row %d: %v, float64 %v (bound %g)", r, g, want, bound)
						}
						continue
					}
					if d := math.Abs(g - want); d > slack {
						t.Fatalf("row %d: %v, float64 %v (bound %g)", r, g, want, bound)
					}
					errs += (g - want) * (g - want)
					sig += want * want
				}
				if name == "infinite" || name == "tiny" { // tiny: products below float32's normal range
					return
				}
				if sig == 0 { // every row overflowed, as checked above
					return
				}
				if nmse := errs / sig; !(nmse <= 1e-14) {
					t.Fatalf("NMSE %.3g against float64, want ≤ 1e-14", nmse)
				}
			})
		}
	}
}

// TestQuantize checks the quantized input: X·s_b within half a step of
// x, the limbs in range, the sums exact.
func TestQuantize(t *testing.T) {
	rng := newRNG(t)
	for name, x := range integerInputs(rng, 1024) {
		var q quantBatch
		quantize(&q, x, 1, len(x))
		for b := range q.blocks {
			s := q.scale[b]
			var sums [8]int64
			for i := range superBlock {
				k := b*superBlock + i
				v, X := float64(x[k]), q.value(0, k)
				if X >= 1<<quantBits || X <= -1<<quantBits || q.lo[k] < -1<<14 || q.lo[k] >= 1<<14 {
					t.Fatalf("%s: X = %d, L = %d", name, X, q.lo[k])
				}
				if !math.IsNaN(s) && math.Abs(float64(X)*s-v) > s/2 {
					t.Fatalf("%s block %d element %d: %v quantized to %d × %g", name, b, i, v, X, s)
				}
				sums[i/32] += X
			}
			for j, sum := range sums {
				if float64(sum) != q.sums32[8*b+j] {
					t.Fatalf("%s: sum %d of block %d: %v, want %d", name, j, b, q.sums32[8*b+j], sum)
				}
			}
		}
	}
}

// TestQuantizerVariants runs every variant's quantizer against the pure-Go
// one, bit for bit.
func TestQuantizerVariants(t *testing.T) {
	rng := newRNG(t)
	for name, x := range integerInputs(rng, 2048) {
		var want quantBatch
		quantize(&want, x, 2, 1024)
		for _, v := range supportedVariants() {
			got := quantBatch{hi: make([]int16, 1), sums32: []float64{7}}
			quantizer(v)(&got, x, 2, 1024)
			same := got.n == want.n && got.blocks == want.blocks && slices.Equal(got.hi, want.hi) &&
				slices.Equal(got.lo, want.lo) && slices.Equal(got.sums32, want.sums32)
			for b := range want.scale {
				same = same && math.Float64bits(got.scale[b]) == math.Float64bits(want.scale[b])
			}
			if !same {
				t.Fatalf("%v, %s: differs from the generic quantizer", v, name)
			}
		}
	}
}
