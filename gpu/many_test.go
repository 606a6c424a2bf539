//go:build cgo

package gpu_test

import (
	"testing"

	"strata/engine"
	"strata/engine/testmodel"
	"strata/internal/testseed"
)

// TestForwardManyExact checks the contract of batching on Vulkan: each
// sequence of random batches of several (prompt chunks and single tokens
// at different positions, passes of 5 rows) gets the logits it gets
// alone, bit for bit.
func TestForwardManyExact(t *testing.T) {
	frag, err := engine.NewFragment(openTiny(t), openGPU(t), engine.FragmentOptions{Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := testmodel.CheckMany(frag, testseed.New(t), 6); err != nil {
		t.Fatal(err)
	}
}
