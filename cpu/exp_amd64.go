//go:build amd64 && !noasm

package cpu

// siluMulAVX512 is siluMul over n elements, a multiple of 8.
//
//go:noescape
func siluMulAVX512(out, gate, up *float32, n int)

// softmaxExpAVX512 is softmaxExp over n scores, a multiple of 8, adding
// their exponentials to sum in order.
//
//go:noescape
func softmaxExpAVX512(scores *float32, n int, best float32, sum *float64)

// asmSoftmaxExp returns the assembly softmax exponential of variant v, if
// any: AVX-512 over whole vectors of 8, the twin for the rest.
func asmSoftmaxExp(v kernelVariant) func(scores []float32, best float32) float64 {
	if v != variantAVX512 || !hasAVX512 {
		return nil
	}
	return func(scores []float32, best float32) float64 {
		n := len(scores) / 8 * 8
		var sum float64
		if n > 0 {
			softmaxExpAVX512(&scores[0], n, best, &sum)
		}
		return softmaxExpTo(sum, scores[n:], best)
	}
}

// asmSilu returns the assembly SwiGLU product of variant v, if any: the
// AVX-512 kernel over whole vectors of 8, the twin for the rest. AVX2 has
// none (it lacks VRNDSCALEPD and VSCALEFPD), so it runs the twin.
func asmSilu(v kernelVariant) func(out, gate, up []float32) {
	if v != variantAVX512 || !hasAVX512 {
		return nil
	}
	return func(out, gate, up []float32) {
		n := len(out) / 8 * 8
		if n > 0 {
			_, _ = gate[n-1], up[n-1]
			siluMulAVX512(&out[0], &gate[0], &up[0], n)
		}
		siluMul(out[n:], gate[n:], up[n:])
	}
}
