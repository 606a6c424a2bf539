//go:build amd64 && !noasm

package cpu

// siluMulAVX512 is siluMul over n elements, a multiple of 8.
//
//go:noescape
func siluMulAVX512(out, gate, up *float32, n int)

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
