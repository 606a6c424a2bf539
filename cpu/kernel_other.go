//go:build !amd64 || noasm

package cpu

import "strata/gguf"

// asmKernel has no assembly to offer on this build.
func asmKernel(gguf.TensorType, kernelVariant) rowsKernel { return nil }

// supportedVariants lists the kernel variants this build runs here.
func supportedVariants() []kernelVariant { return []kernelVariant{variantGeneric} }

// tileProducts returns the tile product of variant v.
func tileProducts(kernelVariant) tileProduct { return tileGeneric }

// dots returns the pairDot of variant v.
func dots(kernelVariant) func(w, x []float32) float32 { return pairDot }

// axpys returns the axpy of variant v.
func axpys(kernelVariant) func(y, x []float32, a float32) { return axpy }

// asmIntegerKernel has no assembly to offer on this build.
func asmIntegerKernel(gguf.TensorType, kernelVariant) integerKernel { return nil }

// asmQuantizer has no assembly to offer on this build.
func asmQuantizer(kernelVariant) func(q *quantBatch, x []float32, n, cols int) { return nil }

// asmSilu has no assembly to offer on this build.
func asmSilu(kernelVariant) func(out, gate, up []float32) { return nil }

// asmSoftmaxExp has no assembly to offer on this build.
func asmSoftmaxExp(kernelVariant) func(scores []float32, best float32) float64 { return nil }

// dotRowss returns the row products of variant v.
func dotRowss(v kernelVariant) func(out, k []float32, stride int, q []float32) {
	return dotRowsOf(dots(v))
}

// axpyRowss returns the row sums of variant v.
func axpyRowss(v kernelVariant) func(o, vs []float32, stride int, w []float32) {
	return axpyRowsOf(axpys(v))
}
