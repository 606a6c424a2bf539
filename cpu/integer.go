package cpu

// Integer matrix-vector products for the K formats (Q4_K and Q6_K). The
// input row is quantized once per product to integers, and every weight
// row's product is then exact integer arithmetic per super-block, scaled
// in one fixed order:
//
//   - Each super-block b of 256 inputs gets the power of two 2^e that puts
//     its largest magnitude m in [2^29, 2^30): X_i = round(x_i·2^e), ties
//     to even, so |X_i| ≤ 2^30. Its scale is s_b = 2^−e. A super-block of
//     zeros has s_b = 0; one holding a NaN or an infinity has s_b = NaN.
//   - Per weight super-block, S = Σ_j sc_j·Σ_{i∈j} q_i·X_i and, for Q4_K,
//     M = Σ_j m_j·Σ_{i∈j} X_i: exact integers, whatever order or width
//     adds them (they stay below 2^53).
//   - t_b = float64(d)·float64(S) − float64(dmin)·float64(M) (Q6_K: q is
//     the value minus 32 and there is no M), each operation rounded to
//     float64; acc = acc + t_b·s_b over b in order; the product is
//     float32(acc).
//
// Integer sums are associative, so every kernel variant, batch size and
// thread count gives the same bits. X keeps 30 bits of each super-block:
// every input of at least 2^−7 of the largest exactly (float32 holds 24),
// the smaller ones to 2^−31 of it, so the products are those of exact
// arithmetic on the float32 inputs but for that and the last rounding.
//
// The kernels take X as four signed bytes (limbs), X = ((a·256 + b)·256 +
// c)·256 + d, so that byte-by-byte multiplies (VPMADDUBSW) compute it.

import (
	"math"

	"strata/format"
	"strata/gguf"
)

const (
	superBlock = 256 // inputs per super-block of the K formats
	limbBytes  = limbs * superBlock
	quantBits  = 30         // |X| ≤ 2^quantBits
	limbs      = 4          // signed bytes per element
	sumWords   = 16 * limbs // the limbs' sums over 16, per super-block
)

// quietNaN is the scale of a super-block holding a NaN or an infinity,
// the same bits in every quantizer.
var quietNaN = math.Float64frombits(0x7ff8000000000000)

// An inputOrder is where a quantized row stores element i of each
// super-block: the order its format's kernel reads the weights in.
type inputOrder int

const (
	naturalOrder inputOrder = iota // Q6_K
	q4kOrder                       // Q4_K: sub-blocks 0, 2, 1, 3, 4, 6, 5, 7
)

// position returns where element i of a super-block is stored.
func (o inputOrder) position(i int) int {
	if o == naturalOrder {
		return i
	}
	// 64-byte runs of weight nibbles hold sub-blocks (4h, 4h+2) in the
	// low nibbles, (4h+1, 4h+3) in the high ones.
	sub, l := i/32, i%32
	h, k := sub/4, sub%4
	return 128*h + 64*(k%2) + 32*(k/2) + l
}

// quantRow is one input row quantized for the integer kernels.
type quantRow struct {
	order  inputOrder
	blocks int
	limbs  []int8    // per super-block: the limbs, highest first, 256 bytes each, in order's positions
	scale  []float64 // per super-block: s_b
	sums32 []float64 // per super-block: the 8 sums of X over elements 32j..32j+31
	sums16 []int16   // per super-block: per limb, the 16 sums over elements 16j..16j+15; 16 more at the end
}

// integerType reports whether t's products are computed by the integer
// kernels, and the input order they read.
func integerType(t gguf.TensorType) (inputOrder, bool) {
	switch t {
	case gguf.Q4_K:
		return q4kOrder, true
	case gguf.Q6_K:
		return naturalOrder, true
	}
	return 0, false
}

// size makes q hold a row of n inputs (n a multiple of superBlock) in
// order o, and returns its super-blocks.
func (q *quantRow) size(n int, o inputOrder) int {
	blocks := n / superBlock
	q.order, q.blocks = o, blocks
	q.limbs = grow(q.limbs, blocks*limbBytes)
	q.scale = grow(q.scale, blocks)
	q.sums32 = grow(q.sums32, blocks*8)
	q.sums16 = grow(q.sums16, blocks*sumWords+16)
	clear(q.sums16[blocks*sumWords:])
	return blocks
}

// finish completes what the assembly quantizers leave: the sums over 32
// from the limbs' sums over 16, and non-finite super-blocks cleared.
func (q *quantRow) finish() {
	for b := range q.blocks {
		s16 := q.sums16[sumWords*b : sumWords*(b+1)]
		if math.IsNaN(q.scale[b]) {
			q.scale[b] = quietNaN
			clear(q.limbs[b*limbBytes : (b+1)*limbBytes])
			clear(s16)
		}
		for j := range 8 {
			var sum int64
			for l := range limbs {
				sum = sum<<8 + int64(s16[16*l+2*j]) + int64(s16[16*l+2*j+1])
			}
			q.sums32[8*b+j] = float64(sum)
		}
	}
}

// quantize fills q from x (len(x) a multiple of superBlock) in order o:
// the pure-Go quantizer, the definition of the quantized input.
func quantize(q *quantRow, x []float32, o inputOrder) {
	blocks := q.size(len(x), o)
	for b := range blocks {
		xs := x[b*superBlock : (b+1)*superBlock]
		// The largest magnitude, from the bits: their order is the
		// magnitudes' for finite values, and above every one for the rest.
		var mb uint32
		for _, v := range xs {
			mb = max(mb, math.Float32bits(v)&0x7fffffff)
		}
		m, finite := math.Float32frombits(mb), mb < 0x7f800000
		limbsOf := q.limbs[b*limbBytes : (b+1)*limbBytes]
		sums32 := q.sums32[b*8 : b*8+8]
		sums16 := q.sums16[b*sumWords : (b+1)*sumWords]
		if !finite || m == 0 {
			q.scale[b] = 0
			if !finite {
				q.scale[b] = quietNaN
			}
			clear(limbsOf)
			clear(sums32)
			clear(sums16)
			continue
		}
		_, k := math.Frexp(float64(m)) // m < 2^k
		e := quantBits - k
		up := math.Ldexp(1, e)
		q.scale[b] = math.Ldexp(1, -e)
		for run := range superBlock / 32 {
			p := o.position(32 * run)
			xr := xs[32*run : 32*run+32 : 32*run+32]
			var sum int64
			for half := range 2 {
				var sl [limbs]int16
				for i := 16 * half; i < 16*half+16; i++ {
					X := int32(math.RoundToEven(float64(xr[i]) * up))
					sum += int64(X)
					// Balanced base-256 digits, the lowest first; the
					// highest is what remains, at most 64 in magnitude.
					for l := limbs - 1; l >= 0; l-- {
						d := int8(X)
						limbsOf[l*superBlock+p+i] = d
						sl[l] += int16(d)
						X = (X - int32(d)) >> 8
					}
				}
				j := 2*run + half
				for l := range limbs {
					sums16[16*l+j] = sl[l]
				}
			}
			sums32[run] = float64(sum)
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

// values writes the X of super-block b, in natural order, to dst.
func (q *quantRow) values(dst *[superBlock]int64, b int) {
	ls := q.limbs[b*limbBytes : (b+1)*limbBytes]
	for i := range dst {
		p := q.order.position(i)
		var x int64
		for l := range limbs {
			x = x<<8 + int64(ls[l*superBlock+p])
		}
		dst[i] = x
	}
}

// An integerKernel writes to out[r] the product of weight row r (rowBytes
// each, in w) with the quantized input q.
type integerKernel func(out []float32, w []byte, rowBytes int, q *quantRow)

// q4kInteger is the pure-Go Q4_K integer kernel: the definition above.
func q4kInteger(out []float32, w []byte, rowBytes int, q *quantRow) {
	var X [superBlock]int64
	for r := range out {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var acc float64
		for b := range q.blocks {
			q.values(&X, b)
			blk := row[b*144 : (b+1)*144]
			d, dmin := format.Half(blk[0:]), format.Half(blk[2:])
			var S, M int64
			for j := range 8 {
				sc, m := format.ScaleMinK4(j, blk[4:16])
				qs := blk[16+32*(j/2) : 16+32*(j/2)+32]
				shift := 4 * uint(j%2)
				var p, sum int64
				for l := range 32 {
					x := X[32*j+l]
					p += int64(qs[l]>>shift&0xf) * x
					sum += x
				}
				S += int64(sc) * p
				M += int64(m) * sum
			}
			t := float64(d)*float64(S) - float64(dmin)*float64(M)
			acc = acc + t*q.scale[b]
		}
		out[r] = float32(acc)
	}
}

// q6kInteger is the pure-Go Q6_K integer kernel.
func q6kInteger(out []float32, w []byte, rowBytes int, q *quantRow) {
	var X [superBlock]int64
	var v [superBlock]int64
	for r := range out {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var acc float64
		for b := range q.blocks {
			q.values(&X, b)
			blk := row[b*210 : (b+1)*210]
			d := format.Half(blk[208:])
			for h := range 2 {
				ql, qh := blk[64*h:64*h+64], blk[128+32*h:128+32*h+32]
				for l := range 32 {
					v[128*h+l] = int64(ql[l]&0xf|(qh[l]&3)<<4) - 32
					v[128*h+l+32] = int64(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
					v[128*h+l+64] = int64(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
					v[128*h+l+96] = int64(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				}
			}
			var S int64
			for j := range 16 {
				var p int64
				for l := 16 * j; l < 16*j+16; l++ {
					p += v[l] * X[l]
				}
				S += int64(int8(blk[192+j])) * p
			}
			t := float64(d) * float64(S)
			acc = acc + t*q.scale[b]
		}
		out[r] = float32(acc)
	}
}

// genericIntegerKernels are the pure-Go integer kernels, by type.
var genericIntegerKernels = map[gguf.TensorType]integerKernel{
	gguf.Q4_K: q4kInteger,
	gguf.Q6_K: q6kInteger,
}

// quantizer returns the quantizer of variant v; all give the same bits.
func quantizer(v kernelVariant) func(q *quantRow, x []float32, o inputOrder) {
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
