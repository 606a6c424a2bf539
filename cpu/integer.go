package cpu

// Integer matrix products for the K formats (Q4_K, Q5_K and Q6_K). Each
// input row is quantized once per product to integers; every weight row's
// product is then exact integer arithmetic per super-block, scaled in one
// fixed order:
//
//   - Each super-block b of 256 inputs gets the power of two 2^e that puts
//     its largest magnitude m in [2^28, 2^29): X_i = round(x_i·2^e), ties
//     to even, so |X_i| < 2^29. Its scale is s_b = 2^−e. A super-block of
//     zeros has s_b = 0; one holding a NaN or an infinity has s_b = NaN.
//   - Weight i of a super-block is the integer w_i = sc_j·q_i (Q4_K, q a
//     nibble; Q5_K, q of five bits) or sc_j·(q_i − 32) (Q6_K), for its
//     sub-block j.
//   - Lane l < 8 of a super-block holds the elements i with (i/2) mod 8 =
//     l: S_l = Σ w_i·X_i over them, and, for Q4_K and Q5_K, M_l =
//     m_l·Σ X_i over sub-block l. Both are exact integers, whatever order or width adds
//     them (they stay below 2^53).
//   - t_l = d·S_l − u_l with one rounding, where u_l = dmin·M_l (Q6_K:
//     u_l = 0), and acc_l = t_l·s_b + acc_l with one rounding, over b in
//     order; the product is float32 of the lanes summed by reduceLanes.
//
// Integer sums are associative, so every kernel variant, batch size and
// thread count gives the same bits, and decode (one input, weights decoded
// in registers) and prompts (many inputs against weights expanded once)
// agree. X keeps 29 bits of each super-block: inputs of at least 2^−5 of
// its largest exactly (float32 holds 24 bits), the smaller ones to 2^−30
// of it, so the products are exact arithmetic's on the float32 inputs but
// for that and the last roundings.
//
// The kernels take X as two 16-bit limbs, X = H·2^15 + L with |L| ≤ 2^14,
// so that 16-bit multiplies (VPDPWSSD) compute it.

import (
	"math"
	"slices"

	"strata/format"
	"strata/gguf"
)

const (
	superBlock = 256 // inputs per super-block of the K formats
	quantBits  = 29  // |X| < 2^quantBits
	limbShift  = 15  // X = H·2^limbShift + L
	laneCount  = 8   // lanes of a super-block's sums
)

// quietNaN is the scale of a super-block holding a NaN or an infinity,
// the same bits in every quantizer.
var quietNaN = math.Float64frombits(0x7ff8000000000000)

// quantBatch is a batch of input rows quantized for the integer kernels.
type quantBatch struct {
	n, cols, blocks int       // rows, inputs a row, super-blocks a row
	hi, lo          []int16   // n × cols: H and L of every input
	scale           []float64 // n × blocks: s_b
	sums32          []float64 // n × blocks × 8: the sums of X over elements 32j..32j+31
}

// integerTypes are the formats whose products the integer kernels compute.
var integerTypes = []gguf.TensorType{gguf.Q4_K, gguf.Q5_K, gguf.Q6_K}

// integerType reports whether t's products are computed by the integer
// kernels.
func integerType(t gguf.TensorType) bool { return slices.Contains(integerTypes, t) }

// size makes q hold n rows of cols inputs (a multiple of superBlock).
func (q *quantBatch) size(n, cols int) {
	q.n, q.cols, q.blocks = n, cols, cols/superBlock
	q.hi = grow(q.hi, n*cols)
	q.lo = grow(q.lo, n*cols)
	q.scale = grow(q.scale, n*q.blocks)
	q.sums32 = grow(q.sums32, n*q.blocks*8)
}

// quantize fills q from the n rows of x (n × cols): the pure-Go
// quantizer, the definition of the quantized input.
func quantize(q *quantBatch, x []float32, n, cols int) {
	q.size(n, cols)
	for b := range n * q.blocks {
		xs := x[b*superBlock : (b+1)*superBlock]
		hi, lo := q.hi[b*superBlock:(b+1)*superBlock], q.lo[b*superBlock:(b+1)*superBlock]
		sums32 := q.sums32[b*8 : b*8+8]
		// The largest magnitude, from the bits: their order is the
		// magnitudes' for finite values, and above every one for the rest.
		var mb uint32
		for _, v := range xs {
			mb = max(mb, math.Float32bits(v)&0x7fffffff)
		}
		m, finite := math.Float32frombits(mb), mb < 0x7f800000
		if !finite || m == 0 {
			q.scale[b] = 0
			if !finite {
				q.scale[b] = quietNaN
			}
			clear(hi)
			clear(lo)
			clear(sums32)
			continue
		}
		_, k := math.Frexp(float64(m)) // m < 2^k
		e := quantBits - k
		up := math.Ldexp(1, e)
		q.scale[b] = math.Ldexp(1, -e)
		for j := range sums32 {
			var sum int64
			for i := 32 * j; i < 32*j+32; i++ {
				X := int32(math.RoundToEven(float64(xs[i]) * up))
				l := X << (32 - limbShift) >> (32 - limbShift) // balanced low limb
				hi[i], lo[i] = int16((X-l)>>limbShift), int16(l)
				sum += int64(X)
			}
			sums32[j] = float64(sum)
		}
	}
}

// grow returns s resized to n, reusing its memory when it can.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// value returns X of input i of row j.
func (q *quantBatch) value(j, i int) int64 {
	return int64(q.hi[j*q.cols+i])<<limbShift + int64(q.lo[j*q.cols+i])
}

// reduceLanes sums the lanes of a product: (a0+a4) + (a2+a6), then
// (a1+a5) + (a3+a7), then their sum.
func reduceLanes(a *[laneCount]float64) float32 {
	return float32(((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])))
}

// A superBlockDecoder writes the integer weights of one super-block of
// its format, and returns d, dmin and the mins (zero for Q6_K).
type superBlockDecoder func(w *[superBlock]int64, mins *[8]int64, blk []byte) (d, dmin float64)

// q4kWeights decodes a Q4_K super-block.
func q4kWeights(w *[superBlock]int64, mins *[8]int64, blk []byte) (d, dmin float64) {
	return k4Weights(w, mins, blk, blk[16:144], nil)
}

// q5kWeights decodes a Q5_K super-block: Q4_K's layout with a fifth bit
// of each value, bit j of qh[l] for value l of sub-block j.
func q5kWeights(w *[superBlock]int64, mins *[8]int64, blk []byte) (d, dmin float64) {
	return k4Weights(w, mins, blk, blk[48:176], blk[16:48])
}

// k4Weights decodes the super-block blk of Q4_K (qh nil) or Q5_K, its
// nibbles in qs and fifth bits in qh.
func k4Weights(w *[superBlock]int64, mins *[8]int64, blk, qs, qh []byte) (d, dmin float64) {
	for j := range 8 {
		sc, m := format.ScaleMinK4(j, blk[4:16])
		mins[j] = int64(m)
		q := qs[32*(j/2) : 32*(j/2)+32]
		shift := 4 * uint(j%2)
		for l := range 32 {
			v := int64(q[l] >> shift & 0xf)
			if qh != nil {
				v |= int64(qh[l]>>uint(j)&1) << 4
			}
			w[32*j+l] = int64(sc) * v
		}
	}
	return float64(format.Half(blk[0:])), float64(format.Half(blk[2:]))
}

// q6kWeights decodes a Q6_K super-block.
func q6kWeights(w *[superBlock]int64, mins *[8]int64, blk []byte) (d, dmin float64) {
	for h := range 2 {
		ql, qh := blk[64*h:64*h+64], blk[128+32*h:128+32*h+32]
		for l := range 32 {
			w[128*h+l] = int64(ql[l]&0xf|(qh[l]&3)<<4) - 32
			w[128*h+l+32] = int64(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
			w[128*h+l+64] = int64(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
			w[128*h+l+96] = int64(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
		}
	}
	for i := range w {
		w[i] *= int64(int8(blk[192+i/16]))
	}
	*mins = [8]int64{}
	return float64(format.Half(blk[208:])), 0
}

// An integerKernel writes to out[j*stride+r], for r < rows and j < q.n,
// the product of weight row r (rowBytes each, in w) with quantized input
// j. scratch is the caller's, for the kernel to grow and keep.
type integerKernel func(out []float32, stride int, w []byte, rows, rowBytes int, q *quantBatch, scratch *[]float64)

// integerGo returns the pure-Go integer kernel of a format whose
// super-blocks of typeSize bytes decode by decode: the definition above,
// each super-block decoded once for every input.
func integerGo(decode superBlockDecoder, typeSize int) integerKernel {
	return func(out []float32, stride int, w []byte, rows, rowBytes int, q *quantBatch, scratch *[]float64) {
		var weights [superBlock]int64
		var mins [8]int64
		if scratch == nil {
			scratch = new([]float64)
		}
		if need := q.n * laneCount; len(*scratch) < need {
			*scratch = make([]float64, need)
		}
		acc := (*scratch)[:q.n*laneCount]
		for r := range rows {
			row := w[r*rowBytes : (r+1)*rowBytes]
			clear(acc)
			for b := range q.blocks {
				d, dmin := decode(&weights, &mins, row[b*typeSize:(b+1)*typeSize])
				for j := range q.n {
					x := j*q.cols + b*superBlock
					hi, lo := q.hi[x:x+superBlock], q.lo[x:x+superBlock]
					// Lane l holds the elements i with (i/2) mod 8 = l.
					var sh, sl [laneCount]int64
					for i0 := 0; i0 < superBlock; i0 += 2 * laneCount {
						for l := range laneCount {
							i := i0 + 2*l
							sh[l] += weights[i]*int64(hi[i]) + weights[i+1]*int64(hi[i+1])
							sl[l] += weights[i]*int64(lo[i]) + weights[i+1]*int64(lo[i+1])
						}
					}
					jb := j*q.blocks + b
					a := (*[laneCount]float64)(acc[j*laneCount:])
					for l := range a {
						S := sh[l]<<limbShift + sl[l]
						u := dmin * (float64(mins[l]) * q.sums32[8*jb+l])
						t := math.FMA(d, float64(S), -u)
						a[l] = math.FMA(t, q.scale[jb], a[l])
					}
				}
			}
			for j := range q.n {
				out[j*stride+r] = reduceLanes((*[laneCount]float64)(acc[j*laneCount:]))
			}
		}
	}
}

// genericIntegerKernels are the pure-Go integer kernels, by type.
var genericIntegerKernels = map[gguf.TensorType]integerKernel{
	gguf.Q4_K: integerGo(q4kWeights, 144),
	gguf.Q5_K: integerGo(q5kWeights, 176),
	gguf.Q6_K: integerGo(q6kWeights, 210),
}

// quantizer returns the quantizer of variant v; all give the same bits.
func quantizer(v kernelVariant) func(q *quantBatch, x []float32, n, cols int) {
	if f := asmQuantizer(v); f != nil {
		return f
	}
	return quantize
}

// integerKernelOf returns the integer kernel of type t in variant v, or
// nil when t's products are not integer ones.
func integerKernelOf(t gguf.TensorType, v kernelVariant) integerKernel {
	if k := asmIntegerKernel(t, v); k != nil {
		return k
	}
	return genericIntegerKernels[t]
}
