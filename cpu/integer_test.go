package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"strata/gguf"
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
// rows and inputs against the pure-Go twin, bit for bit.
func TestIntegerVariants(t *testing.T) {
	rng := newRNG(t)
	for _, typ := range []gguf.TensorType{gguf.Q4_K, gguf.Q6_K} {
		order, _ := integerType(typ)
		for _, cols := range []int{256, 512, 4096, 14336} {
			const rows = 13
			rowBytes := typ.RowSize(cols)
			w := make([]byte, 0, rows*rowBytes)
			for range rows {
				w = append(w, randomRow(rng, typ, cols)...)
			}
			for name, x := range integerInputs(rng, cols) {
				t.Run(fmt.Sprintf("%v/%d/%s", typ, cols, name), func(t *testing.T) {
					var q quantRow
					quantize(&q, x, order)
					want := make([]float32, rows)
					genericIntegerKernels[typ](want, w, rowBytes, &q)
					for _, v := range supportedVariants() {
						got := make([]float32, rows)
						integerKernelOf(typ, v)(got, w, rowBytes, &q)
						for r := range rows {
							if math.Float32bits(got[r]) != math.Float32bits(want[r]) {
								t.Fatalf("%v row %d: %v, generic %v", v, r, got[r], want[r])
							}
						}
					}
				})
			}
		}
	}
}

// TestIntegerAccuracy checks the twins against the float64 product of the
// reference decoder and the unquantized input: within a few roundings of
// float32 of it, as exact arithmetic on the quantized input gives (NMSE
// about 1e-15, where the float route of pairDot gives about 5e-14).
func TestIntegerAccuracy(t *testing.T) {
	rng := newRNG(t)
	for _, typ := range []gguf.TensorType{gguf.Q4_K, gguf.Q6_K} {
		order, _ := integerType(typ)
		const cols, rows = 4096, 16
		rowBytes := typ.RowSize(cols)
		w := make([]byte, 0, rows*rowBytes)
		for range rows {
			w = append(w, randomRow(rng, typ, cols)...)
		}
		for name, x := range integerInputs(rng, cols) {
			t.Run(fmt.Sprintf("%v/%s", typ, name), func(t *testing.T) {
				var q quantRow
				quantize(&q, x, order)
				got := make([]float32, rows)
				genericIntegerKernels[typ](got, w, rowBytes, &q)
				var errs, sig float64
				for r := range rows {
					var want, mag float64
					for i := range cols {
						p := refElement(typ, w[r*rowBytes:(r+1)*rowBytes], i) * float64(x[i])
						want += p
						mag += math.Abs(p)
					}
					g := float64(got[r])
					if name == "infinite" {
						if !math.IsNaN(g) {
							t.Fatalf("row %d: %v from an infinite input", r, g)
						}
						continue
					}
					// Two float32 roundings of the result, and the inputs
					// below 2^−7 of their super-block's largest, exact to
					// 2^−31 of it: at most 2^−22 of the magnitudes' sum.
					if d := math.Abs(g - want); d > 0x1p-23*math.Abs(want)+0x1p-30*mag+0x1p-148 {
						t.Fatalf("row %d: %v, float64 %v", r, g, want)
					}
					errs += (g - want) * (g - want)
					sig += want * want
				}
				if name == "infinite" || name == "tiny" { // tiny: products below float32's normal range
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
// x, limbs in range, the sums exact.
func TestQuantize(t *testing.T) {
	rng := newRNG(t)
	for _, order := range []inputOrder{naturalOrder, q4kOrder} {
		for name, x := range integerInputs(rng, 1024) {
			var q quantRow
			quantize(&q, x, order)
			var X [superBlock]int64
			for b := range q.blocks {
				q.values(&X, b)
				s := q.scale[b]
				var sums [8]int64
				for i := range superBlock {
					v := float64(x[b*superBlock+i])
					if math.Abs(float64(X[i])) > 1<<quantBits {
						t.Fatalf("%s: X = %d", name, X[i])
					}
					if !math.IsNaN(s) && math.Abs(float64(X[i])*s-v) > s/2 {
						t.Fatalf("%s block %d element %d: %v quantized to %d × %g", name, b, i, v, X[i], s)
					}
					sums[i/32] += X[i]
				}
				for j, sum := range sums {
					if float64(sum) != q.sums32[8*b+j] {
						t.Fatalf("%s: sum %d of block %d: %v, want %d", name, j, b, q.sums32[8*b+j], sum)
					}
				}
			}
		}
	}
}

// TestQuantizerVariants runs every variant's quantizer against the pure-Go
// one, bit for bit.
func TestQuantizerVariants(t *testing.T) {
	rng := newRNG(t)
	for _, order := range []inputOrder{naturalOrder, q4kOrder} {
		for name, x := range integerInputs(rng, 2048) {
			var want quantRow
			quantize(&want, x, order)
			for _, v := range supportedVariants() {
				got := quantRow{limbs: make([]int8, 1), sums16: []int16{7}}
				quantizer(v)(&got, x, order)
				same := got.blocks == want.blocks && slices.Equal(got.limbs, want.limbs) &&
					slices.Equal(got.sums16, want.sums16) && slices.Equal(got.sums32, want.sums32)
				for b := range want.scale {
					same = same && math.Float64bits(got.scale[b]) == math.Float64bits(want.scale[b])
				}
				if !same {
					t.Fatalf("%v, order %d, %s: differs from the generic quantizer", v, order, name)
				}
			}
		}
	}
}
