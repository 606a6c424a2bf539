//go:build amd64 && !noasm

package cpu

import "golang.org/x/sys/cpu"

// haveAVX2 selects the AVX2 kernels; the noasm build tag drops them.
var haveAVX2 = cpu.X86.HasAVX2

// dotBlocks adds a[i]*b[i] to lane i mod 32 of s, len(a) a multiple of 32.
func dotBlocks(s *[32]float32, a, b []float32) {
	if haveAVX2 {
		dotBlocksAVX2(s, &a[0], &b[0], len(a))
		return
	}
	dotBlocksGeneric(s, a, b)
}

// dotBlocksAVX2 is dotBlocks in four 8-lane registers: lanes 0-7, 8-15,
// 16-23 and 24-31 of s. It multiplies, then adds (no fused multiply-add),
// so it computes the bits dotBlocksGeneric computes.
//
//go:noescape
func dotBlocksAVX2(s *[32]float32, a, b *float32, n int)

func haveAVX2Kernel() bool { return haveAVX2 }
