//go:build amd64 && !noasm

package cpu

import (
	"unsafe"

	"golang.org/x/sys/cpu"

	"strata/format"
	"strata/gguf"
)

var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasOSXSAVE
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ
)

// An asmRows kernel computes rows × blocks of one format against x.
type asmRows func(out *float32, w *byte, rows, blocks int, x *float32)

// f32AVX512 is the F32 kernel: dotRowsAVX512 over rows laid end to end.
func f32AVX512(out *float32, w *byte, rows, blocks int, x *float32) {
	dotRowsAVX512(out, (*float32)(unsafe.Pointer(w)), 128*blocks, rows, blocks, x)
}

//go:noescape
func gemm4x4AVX512(acc *float32, w, x *float32, stride, k int)

//go:noescape
func reduceAVX512(out *float32, acc *float32, n int)

//go:noescape
func f32AVX2(out *float32, w *byte, rows, blocks int, x *float32)

//go:noescape
func gemm1x4AVX2(out *float32, ostride int, w, x *float32, cols int)

//go:noescape
func q8_0AVX512(out *float32, w *byte, rows, blocks int, x *float32)

//go:noescape
func q4_0AVX512(out *float32, w *byte, rows, blocks int, x *float32)

//go:noescape
func f16AVX512(out *float32, w *byte, rows, blocks int, x *float32)

//go:noescape
func bf16AVX512(out *float32, w *byte, rows, blocks int, x *float32)

//go:noescape
func q8_0AVX2(out *float32, w *byte, rows, blocks int, x *float32)

//go:noescape
func q4_0AVX2(out *float32, w *byte, rows, blocks int, x *float32)

//go:noescape
func f16AVX2(out *float32, w *byte, rows, blocks int, x *float32)

//go:noescape
func bf16AVX2(out *float32, w *byte, rows, blocks int, x *float32)

//go:noescape
func axpyAVX512(y, x *float32, a float32, n int)

//go:noescape
func axpyAVX2(y, x *float32, a float32, n int)

// axpys returns the axpy of variant v.
func axpys(v kernelVariant) func(y, x []float32, a float32) {
	switch v {
	case variantAVX512:
		return func(y, x []float32, a float32) { axpyAsm(axpyAVX512, 16, y, x, a) }
	case variantAVX2:
		return func(y, x []float32, a float32) { axpyAsm(axpyAVX2, 8, y, x, a) }
	}
	return axpy
}

func axpyAsm(k func(y, x *float32, a float32, n int), width int, y, x []float32, a float32) {
	n := len(y) / width * width
	if n > 0 {
		_ = x[n-1]
		k(&y[0], &x[0], a, n)
	}
	axpy(y[n:], x[n:], a)
}

// asmKernels are the fused assembly kernels, by variant and type.
var asmKernels = map[kernelVariant]map[gguf.TensorType]asmRows{
	variantAVX512: {
		gguf.Q8_0: q8_0AVX512,
		gguf.Q4_0: q4_0AVX512, gguf.F16: f16AVX512, gguf.BF16: bf16AVX512, gguf.F32: f32AVX512,
	},
	variantAVX2: {
		gguf.Q8_0: q8_0AVX2,
		gguf.Q4_0: q4_0AVX2, gguf.F16: f16AVX2, gguf.BF16: bf16AVX2, gguf.F32: f32AVX2,
	},
}

// asmKernel returns the assembly kernel of type t in variant v, if any,
// as a rowsKernel that checks the lengths that keep every access in
// bounds. The assembly takes blocks of the format's, or of 32 elements
// for the float formats; rows that are not whole such blocks go to the
// generic kernel.
func asmKernel(t gguf.TensorType, v kernelVariant) rowsKernel {
	k, ok := asmKernels[v][t]
	if !ok {
		return nil
	}
	decode, ok := format.Dequantizer(t)
	if !ok {
		return nil
	}
	blockSize := max(t.BlockSize(), 32)
	typeSize := blockSize / t.BlockSize() * t.TypeSize()
	generic := dequantizedRows(decode, t.BlockSize(), t.TypeSize(), pairDot)
	return func(out []float32, w []byte, rowBytes int, x, scratch []float32) {
		if len(out) == 0 {
			return
		}
		if rowBytes%typeSize != 0 {
			generic(out, w, rowBytes, x, scratch)
			return
		}
		blocks := rowBytes / typeSize
		_ = w[len(out)*rowBytes-1]
		_ = x[blocks*blockSize-1]
		k(&out[0], &w[0], len(out), blocks, &x[0])
	}
}

// dots returns the pairDot of variant v.
func dots(v kernelVariant) func(w, x []float32) float32 {
	switch v {
	case variantAVX512:
		return pairDotAVX512
	case variantAVX2:
		return pairDotAVX2
	}
	return pairDot
}

// tileProducts returns the tile product of variant v.
func tileProducts(v kernelVariant) tileProduct {
	switch v {
	case variantAVX512:
		return tileAVX512
	case variantAVX2:
		return tileAVX2
	}
	return tileGeneric
}

// tileAVX2 is tileGeneric one row by four inputs at a time.
func tileAVX2(out []float32, stride int, tile []float32, rows, cols int, x []float32, n int, scratch *[]float32) {
	if cols%32 != 0 || cols == 0 {
		tileGeneric(out, stride, tile, rows, cols, x, n, scratch)
		return
	}
	_ = tile[rows*cols-1]
	_ = x[n*cols-1]
	j := 0
	for ; j+4 <= n; j += 4 {
		for r := range rows {
			_ = out[(j+3)*stride+r]
			gemm1x4AVX2(&out[j*stride+r], stride, &tile[r*cols], &x[j*cols], cols)
		}
	}
	for ; j < n; j++ {
		xj := x[j*cols:]
		for r := range rows {
			out[j*stride+r] = pairDotAVX2(tile[r*cols:(r+1)*cols], xj)
		}
	}
}

// pairDotAVX2 is pairDot. It calls the assembly directly, not through a
// function value, so that out stays on the stack.
func pairDotAVX2(w, x []float32) float32 {
	if len(w)%32 != 0 || len(w) == 0 {
		return pairDot(w, x)
	}
	var out float32
	_ = x[len(w)-1]
	f32AVX2(&out, (*byte)(unsafe.Pointer(&w[0])), 1, len(w)/32, &x[0])
	return out
}

// sliceCols is the length of the slices of a row that tileAVX512
// multiplies at a time, so that four rows of the tile and four inputs
// stay in L1 while the lanes of their products carry over.
const sliceCols = 256

// tileAVX512 is tileGeneric in blocks of four rows by four inputs, each
// cut into slices of sliceCols: for each slice, every block adds its
// slice's blocks of 32 to the block's 16 lanes per product, in pairDot's
// order; the lanes are reduced at the end. Rows and inputs past the
// blocks of four go through pairDotAVX512.
func tileAVX512(out []float32, stride int, tile []float32, rows, cols int, x []float32, n int, scratch *[]float32) {
	if cols%32 != 0 || cols == 0 {
		tileGeneric(out, stride, tile, rows, cols, x, n, scratch)
		return
	}
	_ = tile[rows*cols-1]
	_ = x[n*cols-1]
	rb, tb := rows/4, n/4
	if need := rb * tb * 256; len(*scratch) < need {
		*scratch = make([]float32, need)
	}
	acc := (*scratch)[:rb*tb*256]
	clear(acc)
	for k := 0; k < cols; k += sliceCols {
		kn := min(sliceCols, cols-k)
		for t := range tb {
			for r := range rb {
				gemm4x4AVX512(&acc[(t*rb+r)*256], &tile[4*r*cols+k], &x[4*t*cols+k], cols, kn)
			}
		}
	}
	var sums [4]float32
	for t := range tb {
		for r := range rb {
			a := acc[(t*rb+r)*256:]
			for tt := range 4 {
				reduceAVX512(&sums[0], &a[tt*64], 4)
				copy(out[(4*t+tt)*stride+4*r:(4*t+tt)*stride+4*r+4], sums[:])
			}
		}
	}
	for r := 4 * rb; r < rows; r++ {
		for j := range n {
			out[j*stride+r] = pairDotAVX512(tile[r*cols:(r+1)*cols], x[j*cols:])
		}
	}
	for j := 4 * tb; j < n; j++ {
		for r := range 4 * rb {
			out[j*stride+r] = pairDotAVX512(tile[r*cols:(r+1)*cols], x[j*cols:])
		}
	}
}

// pairDotAVX512 is pairDotAVX2 in AVX-512.
func pairDotAVX512(w, x []float32) float32 {
	if len(w)%32 != 0 || len(w) == 0 {
		return pairDot(w, x)
	}
	var out float32
	_ = x[len(w)-1]
	dotRowsAVX512(&out, &w[0], 0, 1, len(w)/32, &x[0])
	return out
}

// supportedVariants lists the kernel variants this processor runs,
// slowest first.
func supportedVariants() []kernelVariant {
	v := []kernelVariant{variantGeneric}
	if hasAVX2 {
		v = append(v, variantAVX2)
	}
	if hasAVX512 {
		v = append(v, variantAVX512)
	}
	return v
}
