//go:build amd64 && !noasm

package cpu

import (
	"unsafe"

	"golang.org/x/sys/cpu"

	"strata/gguf"
)

// hasVNNI is whether the AVX-512 integer kernels run here: they add
// products of 16-bit pairs with VPDPWSSD.
var hasVNNI = hasAVX512 && cpu.X86.HasAVX512VNNI

// q4kIntegerAVX512 and q6kIntegerAVX512 add to acc[r], for r < rows, the
// terms of blocks super-blocks of weight row r (stride bytes from the
// next) against a quantized input's limbs, scales and sums (sums32 for
// Q4_K, sums16 for Q6_K), from the first super-block given.
//
//go:noescape
func q4kIntegerAVX512(acc *float64, w *byte, stride, rows, blocks int, limbs *int8, scale *float64, sums unsafe.Pointer)

//go:noescape
func q6kIntegerAVX512(acc *float64, w *byte, stride, rows, blocks int, limbs *int8, scale *float64, sums unsafe.Pointer)

// Rows go through the assembly segmentRows at a time, each in segments
// of segmentBlocks super-blocks, so that the segment's quantized input
// (1024 bytes a super-block) stays in L1 for all of them. Each row's
// terms are still added in order.
const (
	segmentRows   = 16
	segmentBlocks = 16
)

//go:noescape
func quantizeAVX512(x *float32, blocks int, limbs *int8, scale *float64, sums16 *int16, positions *int64)

// chunkPositions are, by input order, where each run of 16 elements of a
// super-block is stored.
var chunkPositions = func() (p [2][16]int64) {
	for o := range p {
		for j := range p[o] {
			p[o][j] = int64(inputOrder(o).position(16 * j))
		}
	}
	return p
}()

// asmQuantizer returns the assembly quantizer of variant v, if any.
func asmQuantizer(v kernelVariant) func(q *quantRow, x []float32, o inputOrder) {
	if v != variantAVX512 {
		return nil
	}
	return func(q *quantRow, x []float32, o inputOrder) {
		blocks := q.size(len(x), o)
		if blocks == 0 {
			return
		}
		quantizeAVX512(&x[0], blocks, &q.limbs[0], &q.scale[0], &q.sums16[0], &chunkPositions[o][0])
		q.finish()
	}
}

// asmIntegerKernel returns the integer assembly kernel of type t in
// variant v, if there is one, checking the lengths that keep every access
// in bounds.
func asmIntegerKernel(t gguf.TensorType, v kernelVariant) integerKernel {
	if v != variantAVX512 || !hasVNNI || (t != gguf.Q4_K && t != gguf.Q6_K) {
		return nil
	}
	ts := t.TypeSize()
	return func(out []float32, w []byte, rowBytes int, q *quantRow) {
		if len(out) == 0 || q.blocks == 0 {
			return
		}
		blocks := q.blocks
		if rowBytes < blocks*ts {
			genericIntegerKernels[t](out, w, rowBytes, q)
			return
		}
		_ = w[(len(out)-1)*rowBytes+blocks*ts-1]
		_ = q.limbs[blocks*limbBytes-1]
		_ = q.scale[blocks-1]
		_ = q.sums32[blocks*8-1]
		_ = q.sums16[blocks*sumWords+15]
		var acc [segmentRows]float64
		for r0 := 0; r0 < len(out); r0 += segmentRows {
			rows := min(segmentRows, len(out)-r0)
			clear(acc[:])
			for b := 0; b < blocks; b += segmentBlocks {
				n := min(segmentBlocks, blocks-b)
				// Called directly, not through a function value, so that acc
				// stays on the stack.
				if t == gguf.Q4_K {
					q4kIntegerAVX512(&acc[0], &w[r0*rowBytes+b*ts], rowBytes, rows, n, &q.limbs[b*limbBytes], &q.scale[b], unsafe.Pointer(&q.sums32[8*b]))
				} else {
					q6kIntegerAVX512(&acc[0], &w[r0*rowBytes+b*ts], rowBytes, rows, n, &q.limbs[b*limbBytes], &q.scale[b], unsafe.Pointer(&q.sums16[sumWords*b]))
				}
			}
			for r := range rows {
				out[r0+r] = float32(acc[r])
			}
		}
	}
}
