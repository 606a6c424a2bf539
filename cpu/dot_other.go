//go:build !amd64 || noasm

package cpu

// dotBlocks adds a[i]*b[i] to lane i mod 32 of s, len(a) a multiple of 32.
func dotBlocks(s *[32]float32, a, b []float32) { dotBlocksGeneric(s, a, b) }

func haveAVX2Kernel() bool { return false }
