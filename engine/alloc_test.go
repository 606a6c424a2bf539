package engine_test

import (
	"testing"

	"strata/engine"
)

// TestDecodeAllocatesNothing checks that a decode step allocates nothing
// on the CPU backend.
func TestDecodeAllocatesNothing(t *testing.T) {
	frag, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := frag.NewSession(512)
	logits := make([]float32, frag.Config.Vocab)
	tok := []int32{1}
	allocs := testing.AllocsPerRun(100, func() {
		if err := s.Eval(logits, tok); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("a decode step allocates %v times", allocs)
	}
}
