//go:build amd64 && !noasm

package cpu

import (
	"testing"
)

// TestIntegerPaths asserts which integer code runs: the AVX-512 assembly
// where the processor has VNNI, the AVX2 assembly for the AVX2 variant,
// the pure-Go twins for the generic one.
func TestIntegerPaths(t *testing.T) {
	for _, typ := range integerTypes {
		if got := asmIntegerKernel(typ, variantAVX512) != nil; got != hasVNNI {
			t.Errorf("%v: assembly kernel %v on a processor with VNNI %v", typ, got, hasVNNI)
		}
		if got := asmIntegerKernel(typ, variantAVX2) != nil; got != hasAVX2 {
			t.Errorf("%v: AVX2 assembly kernel %v on a processor with AVX2 %v", typ, got, hasAVX2)
		}
		if asmIntegerKernel(typ, variantGeneric) != nil {
			t.Errorf("%v: the generic variant runs assembly", typ)
		}
	}
	if got := asmQuantizer(variantAVX512) != nil; got != hasAVX512 {
		t.Errorf("assembly quantizer %v with AVX-512 %v", got, hasAVX512)
	}
	if got := asmQuantizer(variantAVX2) != nil; got != hasAVX2 {
		t.Errorf("AVX2 assembly quantizer %v with AVX2 %v", got, hasAVX2)
	}
	if got := asmSilu(variantAVX512) != nil; got != hasAVX512 {
		t.Errorf("assembly SwiGLU %v with AVX-512 %v", got, hasAVX512)
	}
	if asmSilu(variantAVX2) != nil || asmSilu(variantGeneric) != nil {
		t.Errorf("an assembly SwiGLU for AVX2 or generic, which run the twin")
	}
	if got := asmSoftmaxExp(variantAVX512) != nil; got != hasAVX512 {
		t.Errorf("assembly softmax exponential %v with AVX-512 %v", got, hasAVX512)
	}
	t.Logf("VNNI: %v", hasVNNI)
}
