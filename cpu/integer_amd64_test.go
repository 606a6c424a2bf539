//go:build amd64 && !noasm

package cpu

import (
	"math"
	"testing"

	"strata/gguf"
)

// TestIntegerPaths asserts which integer code runs: the AVX-512 assembly
// where the processor has VNNI, the AVX2 assembly for the AVX2 variant,
// the pure-Go twins for the generic one.
func TestIntegerPaths(t *testing.T) {
	for _, typ := range integerTypes {
		if got := asmIntegerKernel(typ, variantAVX512) != nil; got != hasVNNI {
			t.Errorf("%v: assembly kernel %v on a processor with VNNI %v", typ, got, hasVNNI)
		}
		if got := asmIntegerKernel(typ, variantAVX2) != nil; got != hasAVX2 {
			t.Errorf("%v: AVX2 assembly kernel %v on a processor with AVX2 %v", typ, got, hasAVX2)
		}
		if asmIntegerKernel(typ, variantGeneric) != nil {
			t.Errorf("%v: the generic variant runs assembly", typ)
		}
	}
	if got := asmQuantizer(variantAVX512) != nil; got != hasAVX512 {
		t.Errorf("assembly quantizer %v with AVX-512 %v", got, hasAVX512)
	}
	if got := asmQuantizer(variantAVX2) != nil; got != hasAVX2 {
		t.Errorf("AVX2 assembly quantizer %v with AVX2 %v", got, hasAVX2)
	}
	if got := asmSilu(variantAVX512) != nil; got != hasAVX512 {
		t.Errorf("assembly SwiGLU %v with AVX-512 %v", got, hasAVX512)
	}
	if asmSilu(variantAVX2) != nil || asmSilu(variantGeneric) != nil {
		t.Errorf("an assembly SwiGLU for AVX2 or generic, which run the twin")
	}
	if got := asmSoftmaxExp(variantAVX512) != nil; got != hasAVX512 {
		t.Errorf("assembly softmax exponential %v with AVX-512 %v", got, hasAVX512)
	}
	t.Logf("VNNI: %v", hasVNNI)
}

// TestIntegerTiles checks that TestIntegerVariants' rows cross the
// assembly's tiles: a prompt's (integerRows rows) and a decode's.
func TestIntegerTiles(t *testing.T) {
	if r := variantRows(512); r <= integerRows {
		t.Errorf("%d rows at 512 inputs fit one prompt tile of %d", r, integerRows)
	}
	if r, decode := variantRows(256), integerRows*integerTokens; r <= decode {
		t.Errorf("%d rows at 256 inputs fit one decode tile of %d", r, decode)
	}
}

// TestReduceLanesAVX512 checks the assembly lane sums against
// reduceLanes, bit for bit, at every row count to 40 (eight at a time and
// the rest one by one), on random sums with zeros of both signs,
// infinities, NaNs and values that cancel.
func TestReduceLanesAVX512(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := newRNG(t)
	specials := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), 1e300, -1e300, 1e-310}
	for rows := range 41 {
		acc := make([]float64, rows*laneCount)
		for i := range acc {
			switch rng.IntN(8) {
			case 0:
				acc[i] = specials[rng.IntN(len(specials))]
			case 1:
				acc[i] = -acc[max(i-4, 0)] // lanes that cancel
			default:
				acc[i] = rng.NormFloat64() * math.Ldexp(1, rng.IntN(80)-40)
			}
		}
		got := make([]float32, rows+1)
		got[rows] = 42 // a guard past the end
		if rows > 0 {
			reduceLanesAVX512(&got[0], &acc[0], rows)
		}
		for r := range rows {
			want := reduceLanes((*[laneCount]float64)(acc[r*laneCount:]))
			if math.Float32bits(got[r]) != math.Float32bits(want) && !(isNaN32(got[r]) && isNaN32(want)) {
				t.Fatalf("rows %d, row %d: %v, want %v (lanes %v)", rows, r, got[r], want, acc[r*laneCount:(r+1)*laneCount])
			}
		}
		if got[rows] != 42 {
			t.Fatalf("rows %d: wrote past the last row", rows)
		}
	}
}

// TestIntegerSegmentsAVX512 checks that the AVX-512 kernels give the same
// lanes, bit for bit, over a row's super-blocks in one call (fresh) as in
// two, the second adding to the first's lanes: for one input, which takes
// its own path (rows in pairs, the sums in registers), and for three. Five
// rows take the pairs and the odd row.
func TestIntegerSegmentsAVX512(t *testing.T) {
	if !hasVNNI {
		t.Skip("no AVX-512 VNNI")
	}
	rng := newRNG(t)
	const rows, blocks, split = 5, 6, 2
	cols := blocks * superBlock
	kernels := map[gguf.TensorType]func(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int, fresh bool){
		gguf.Q4_K: q4kIntegerAVX512, gguf.Q5_K: q5kIntegerAVX512, gguf.Q6_K: q6kIntegerAVX512,
	}
	for _, typ := range integerTypes {
		k, ts := kernels[typ], typ.TypeSize()
		rowBytes := typ.RowSize(cols)
		var w []byte
		for range rows {
			w = append(w, randomRow(rng, typ, cols)...)
		}
		for _, tokens := range []int{1, 3} {
			x := make([]float32, tokens*cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			var q quantBatch
			quantize(&q, x, tokens, cols)
			whole := make([]float64, tokens*rows*laneCount)
			parts := make([]float64, len(whole))
			for i := range parts {
				parts[i] = math.NaN() // read only if the first call is taken as not fresh
			}
			k(&whole[0], &w[0], rowBytes, rows, blocks, tokens, &q.hi[0], &q.lo[0], &q.scale[0], &q.sums32[0], cols, true)
			k(&parts[0], &w[0], rowBytes, rows, split, tokens, &q.hi[0], &q.lo[0], &q.scale[0], &q.sums32[0], cols, true)
			b := split * superBlock
			k(&parts[0], &w[split*ts], rowBytes, rows, blocks-split, tokens, &q.hi[b], &q.lo[b], &q.scale[split], &q.sums32[8*split], cols, false)
			for i := range whole {
				if math.Float64bits(whole[i]) != math.Float64bits(parts[i]) {
					t.Fatalf("%v, %d input(s): lane %d is %v in one call, %v in two", typ, tokens, i, whole[i], parts[i])
				}
			}
		}
	}
}
