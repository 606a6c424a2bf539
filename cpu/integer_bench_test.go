package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkKernelRoutes compares, on one core, the float route (fused
// kernels over the dequantized order) and the integer route of the K
// formats at Mistral-7B's shapes, weights streamed from DRAM.
func BenchmarkKernelRoutes(b *testing.B) {
	v := bestVariant()
	for _, typ := range integerTypes {
		for _, s := range mistralShapes {
			rows, cols := s[0], s[1]
			data := benchMatrix(typ, rows, cols)
			copies := max(1, streamBytes/len(data))
			mats := make([][]byte, copies)
			for i := range mats {
				mats[i] = append([]byte(nil), data...)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			x := make([]float32, cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			out := make([]float32, rows)
			rb := typ.RowSize(cols)
			b.Run(fmt.Sprintf("float/%v/%dx%d", typ, rows, cols), func(b *testing.B) {
				k, scratch := kernel(typ, v), make([]float32, cols)
				b.SetBytes(int64(len(data)))
				i := 0
				for b.Loop() {
					k(out, mats[i%copies], rb, x, scratch)
					i++
				}
			})
			b.Run(fmt.Sprintf("integer/%v/%dx%d", typ, rows, cols), func(b *testing.B) {
				k := integerKernelOf(typ, v)
				var q quantBatch
				var scratch []float64
				b.SetBytes(int64(len(data)))
				i := 0
				for b.Loop() {
					quantizer(v)(&q, x, 1, cols)
					k(out, rows, mats[i%copies], rows, rb, &q, &scratch)
					i++
				}
			})
		}
	}
}

// BenchmarkQuantize is the quantization of one input row of 4096.
func BenchmarkQuantize(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	var q quantBatch
	b.SetBytes(4 * 4096)
	for b.Loop() {
		quantizer(bestVariant())(&q, x, 1, 4096)
	}
}
