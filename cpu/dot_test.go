package cpu

import (
	"math"
	"testing"
)

// TestDotTwins checks that dotBlocks (assembly where the machine has it)
// and its portable twin compute the same bits, lane by lane.
func TestDotTwins(t *testing.T) {
	rng := newRNG(t)
	for _, n := range []int{32, 64, 96, 4096, 14336} {
		for range 20 {
			a, b := make([]float32, n), make([]float32, n)
			for i := range a {
				a[i] = float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()))
				b[i] = float32(rng.NormFloat64())
			}
			var fast, slow [32]float32
			for k := range fast {
				fast[k] = float32(rng.NormFloat64())
				slow[k] = fast[k]
			}
			dotBlocks(&fast, a, b)
			dotBlocksGeneric(&slow, a, b)
			for k := range fast {
				if math.Float32bits(fast[k]) != math.Float32bits(slow[k]) {
					t.Fatalf("n=%d lane %d: %v (dotBlocks) != %v (generic)", n, k, fast[k], slow[k])
				}
			}
		}
	}
	t.Logf("AVX2 kernel in use: %v", haveAVX2Kernel())
}
