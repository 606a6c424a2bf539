package cpu

// Fused matrix-vector kernels. A kernel computes the products of whole
// weight rows with one input row, reading the weights straight from their
// blocks into registers: no row of floats goes through memory.
//
// Every kernel variant (the pure-Go twin, AVX2 and AVX-512 assembly)
// computes each product in one order, rounding each operation to float32
// and fusing none, so that all give the same bits:
//
//   - Weight w[i] is the value format.Dequantize gives, to the bit: the K
//     formats' d·scale·q − dmin·min rounds once (after the exact
//     d·scale·q), Q6_K, Q8_0, Q4_0 and the float formats are exact.
//   - The row is taken 32 elements at a time. Elements l and l+16 of a
//     block meet in lane l of 16 lanes: lane l adds w[l]·x[l] + w[l+16]·x[l+16]
//     (two rounded products, then their rounded sum) to its accumulator.
//     Elements past the last whole block (float formats only) add w·x to
//     lane i mod 16.
//   - The 16 lanes are reduced by the tree of reduce16.
//
// This is the order of pairDot over a dequantized row, which is how the
// pure-Go twin computes it.

// lanes is the width of the canonical accumulator.
const lanes = 16

// reduce16 sums 16 lanes in a fixed tree: t[k] = s[k]+s[k+8], then
// u[k] = t[k]+t[k+4], and (u[0]+u[2]) + (u[1]+u[3]).
func reduce16(s *[lanes]float32) float32 {
	var t [8]float32
	for k := range t {
		t[k] = s[k] + s[k+8]
	}
	u0, u1, u2, u3 := t[0]+t[4], t[1]+t[5], t[2]+t[6], t[3]+t[7]
	return (u0 + u2) + (u1 + u3)
}

// pairDot returns the product of w and x (len(x) ≥ len(w)) in the order
// every kernel computes it (see above).
func pairDot(w, x []float32) float32 {
	x = x[:len(w)]
	var acc [lanes]float32
	k := 0
	for ; k+32 <= len(w); k += 32 {
		a, b := w[k:k+32:k+32], x[k:k+32:k+32]
		for l := range 16 {
			acc[l] = acc[l] + (float32(a[l]*b[l]) + float32(a[l+16]*b[l+16]))
		}
	}
	for i := k; i < len(w); i++ {
		acc[i%16] = acc[i%16] + float32(w[i]*x[i])
	}
	return reduce16(&acc)
}

// A rowsKernel writes to out[r] the product of weight row r with x, for
// the len(out) rows held in w (rowBytes each). scratch holds at least a
// row of floats, for kernels that need one.
type rowsKernel func(out []float32, w []byte, rowBytes int, x, scratch []float32)

// dequantizedRows is the kernel of a format that has no fused one: each
// row dequantized into scratch, then dot (pairDot or a variant's twin of
// it). With pairDot it is the pure-Go kernel, the definition of the bits.
func dequantizedRows(dequantize func(dst []float32, src []byte), blockSize, typeSize int, dot func(w, x []float32) float32) rowsKernel {
	return func(out []float32, w []byte, rowBytes int, x, scratch []float32) {
		cols := rowBytes / typeSize * blockSize
		row := scratch[:cols]
		for r := range out {
			dequantize(row, w[r*rowBytes:(r+1)*rowBytes])
			out[r] = dot(row, x)
		}
	}
}

// kernelVariant names an implementation of the kernels.
type kernelVariant int

const (
	variantGeneric kernelVariant = iota // the pure-Go twins
	variantAVX2
	variantAVX512
)

func (v kernelVariant) String() string {
	switch v {
	case variantAVX2:
		return "avx2"
	case variantAVX512:
		return "avx512"
	}
	return "generic"
}

// A tileProduct writes out[j*stride + r] = pairDot(tile row r, x row j)
// for r < rows and j < n; tile and x rows are cols floats. scratch is
// the caller's, for the product to grow and keep.
type tileProduct func(out []float32, stride int, tile []float32, rows, cols int, x []float32, n int, scratch *[]float32)

// tileGeneric is the pure-Go tile product.
func tileGeneric(out []float32, stride int, tile []float32, rows, cols int, x []float32, n int, _ *[]float32) {
	for j := range n {
		xj := x[j*cols : (j+1)*cols]
		for r := range rows {
			out[j*stride+r] = pairDot(tile[r*cols:(r+1)*cols], xj)
		}
	}
}

// axpy adds a·x[i] to y[i], the product rounded before the sum. Each
// element is independent, so every variant gives the same bits.
func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] = y[i] + float32(a*x[i])
	}
}
