//go:build amd64 && !noasm

package cpu

import (
	"math"

	"golang.org/x/sys/cpu"

	"strata/gguf"
)

// hasVNNI is whether the AVX-512 integer kernels run here: they add
// products of 16-bit pairs with VPDPWSSD.
var hasVNNI = hasAVX512 && cpu.X86.HasAVX512VNNI

// q4kIntegerAVX512, q5kIntegerAVX512 and q6kIntegerAVX512 add to
// acc[(t·rows + r)·8 + l] lane l of the terms of blocks super-blocks of
// weight row r (stride bytes from the next) against quantized input t <
// tokens, from the first super-block given; each input row holds cols
// inputs. When fresh, acc is not read: the sums start from +0.
//
//go:noescape
func q4kIntegerAVX512(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int, fresh bool)

//go:noescape
func q5kIntegerAVX512(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int, fresh bool)

//go:noescape
func q6kIntegerAVX512(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int, fresh bool)

//go:noescape
func q4kIntegerAVX2(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int)

//go:noescape
func q5kIntegerAVX2(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int)

//go:noescape
func q6kIntegerAVX2(acc *float64, w *byte, stride, rows, blocks, tokens int, hi, lo *int16, scale, sums *float64, cols int)

//go:noescape
func quantizeAVX512(x *float32, blocks int, hi, lo *int16, scale, sums *float64)

//go:noescape
func reduceLanesAVX512(out *float32, acc *float64, rows int)

//go:noescape
func reduceLanesAVX2(out *float32, acc *float64, rows int)

//go:noescape
func quantizeAVX2(x *float32, blocks int, hi, lo *int16, scale, sums *float64)

// asmQuantizer returns the assembly quantizer of variant v, if any.
func asmQuantizer(v kernelVariant) func(q *quantBatch, x []float32, n, cols int) {
	if !(v == variantAVX512 && hasAVX512) && !(v == variantAVX2 && hasAVX2) {
		return nil // a variant this processor cannot run gets the twin
	}
	avx2 := v == variantAVX2
	return func(q *quantBatch, x []float32, n, cols int) {
		q.size(n, cols)
		blocks := n * q.blocks
		if blocks == 0 {
			return
		}
		_ = x[blocks*superBlock-1]
		if avx2 {
			quantizeAVX2(&x[0], blocks, &q.hi[0], &q.lo[0], &q.scale[0], &q.sums32[0])
		} else {
			quantizeAVX512(&x[0], blocks, &q.hi[0], &q.lo[0], &q.scale[0], &q.sums32[0])
		}
		for b, s := range q.scale[:blocks] {
			if math.IsNaN(s) {
				clear(q.hi[b*superBlock : (b+1)*superBlock])
				clear(q.lo[b*superBlock : (b+1)*superBlock])
				clear(q.sums32[8*b : 8*b+8])
			}
		}
	}
}

// The assembly runs on tiles of integerRows weight rows by integerTokens
// inputs (a tile of fewer inputs takes more rows, in the same scratch), a
// segment of super-blocks at a time (segmentBlocks): each
// super-block's weights are decoded once for the tile's inputs, whose
// segment stays in L2 for the tile's rows. Every lane's terms are still
// added in order. A prompt's inputs outgrow L2 (128 inputs of 4096 are 2
// MiB of limbs), so each tile of rows reads its inputs' segments again
// from L3: 128 rows make that once for every 128 rows (16 rows made it
// 8 times as often, and a prompt on Mistral-7B 16% slower), while the
// tile's weights (128 rows of 16 super-blocks are 295 KB of Q4_K, 430 KB
// of Q6_K) and a segment of its inputs still fit L2 together.
const (
	integerRows   = 128
	integerTokens = 16
	integerInput  = 256 << 10 // bytes of the tile's inputs' limbs a segment holds
)

// segmentBlocks is the super-blocks of a segment for a tile of tokens
// inputs: as many as keep the inputs' limbs (1 KiB a super-block: 256 H
// and 256 L of 16 bits) within integerInput. A decode's one input takes
// a whole row of any model's matrices, so its rows' weights stream from
// memory in order, which the kernels' prefetch, a fixed distance ahead,
// relies on.
func segmentBlocks(tokens int) int {
	const limbBytes = 2 * 2 * superBlock // H and L, 16 bits each
	return max(1, integerInput/(limbBytes*tokens))
}

// asmIntegerKernel returns the integer assembly kernel of type t in
// variant v, if there is one, checking the lengths that keep every access
// in bounds.
func asmIntegerKernel(t gguf.TensorType, v kernelVariant) integerKernel {
	if !integerType(t) || !(v == variantAVX512 && hasVNNI) && !(v == variantAVX2 && hasAVX2) {
		return nil
	}
	ts := t.TypeSize()
	avx2 := v == variantAVX2
	return func(out []float32, stride int, w []byte, rows, rowBytes int, q *quantBatch, scratch *[]float64) {
		blocks, cols := q.blocks, q.cols
		if rows == 0 || q.n == 0 || blocks == 0 {
			return
		}
		if rowBytes < blocks*ts {
			genericIntegerKernels[t](out, stride, w, rows, rowBytes, q, scratch)
			return
		}
		_ = w[(rows-1)*rowBytes+blocks*ts-1]
		_ = out[(q.n-1)*stride+rows-1]
		if need := integerRows * integerTokens * laneCount; len(*scratch) < need {
			*scratch = make([]float64, need)
		}
		// A tile of fewer inputs takes more rows in the same scratch: a
		// decode's tile is 2048 rows, so that the calls and lane sums of
		// rows one super-block long (the tiny model's head) cost less.
		tileRows := integerRows * integerTokens / min(q.n, integerTokens)
		for r0 := 0; r0 < rows; r0 += tileRows {
			nr := min(tileRows, rows-r0)
			for t0 := 0; t0 < q.n; t0 += integerTokens {
				nt := min(integerTokens, q.n-t0)
				acc := (*scratch)[:nr*nt*laneCount]
				if avx2 {
					clear(acc) // the AVX-512 kernels take zeros for it at b0 = 0
				}
				seg := segmentBlocks(nt)
				for b0 := 0; b0 < blocks; b0 += seg {
					nb := min(seg, blocks-b0)
					x, jb := t0*cols+b0*superBlock, t0*blocks+b0
					wp := &w[r0*rowBytes+b0*ts]
					// Called directly, not through a function value, so
					// that nothing escapes.
					switch {
					case avx2 && t == gguf.Q4_K:
						q4kIntegerAVX2(&acc[0], wp, rowBytes, nr, nb, nt, &q.hi[x], &q.lo[x], &q.scale[jb], &q.sums32[8*jb], cols)
					case avx2 && t == gguf.Q5_K:
						q5kIntegerAVX2(&acc[0], wp, rowBytes, nr, nb, nt, &q.hi[x], &q.lo[x], &q.scale[jb], &q.sums32[8*jb], cols)
					case avx2:
						q6kIntegerAVX2(&acc[0], wp, rowBytes, nr, nb, nt, &q.hi[x], &q.lo[x], &q.scale[jb], &q.sums32[8*jb], cols)
					case t == gguf.Q4_K:
						q4kIntegerAVX512(&acc[0], wp, rowBytes, nr, nb, nt, &q.hi[x], &q.lo[x], &q.scale[jb], &q.sums32[8*jb], cols, b0 == 0)
					case t == gguf.Q5_K:
						q5kIntegerAVX512(&acc[0], wp, rowBytes, nr, nb, nt, &q.hi[x], &q.lo[x], &q.scale[jb], &q.sums32[8*jb], cols, b0 == 0)
					default:
						q6kIntegerAVX512(&acc[0], wp, rowBytes, nr, nb, nt, &q.hi[x], &q.lo[x], &q.scale[jb], &q.sums32[8*jb], cols, b0 == 0)
					}
				}
				for j := range nt {
					o, a := &out[(t0+j)*stride+r0], &acc[j*nr*laneCount]
					if avx2 {
						reduceLanesAVX2(o, a, nr)
					} else {
						reduceLanesAVX512(o, a, nr)
					}
				}
			}
		}
	}
}
