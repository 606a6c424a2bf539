//go:build faults

package engine_test

import (
	"testing"
	"time"

	"strata/engine"
)

// TestSlowdownForward: under STRATA_FAULT's slowdown of 3, a forward pass
// of the tiny model takes at least twice the fastest of the same pass
// unslowed (3 × its compute, which noise only lengthens), and gives the
// same logits.
func TestSlowdownForward(t *testing.T) {
	frag, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer frag.Close()
	tokens := []int32{1, 415, 2936, 9060, 285, 1142, 2, 7}
	pass := func() ([]float32, time.Duration) {
		s, err := frag.NewSession(len(tokens))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		out := make([]float32, frag.OutputSize(len(tokens), false))
		began := time.Now()
		if err := frag.Forward(out, s, engine.Batch{Tokens: tokens}); err != nil {
			t.Fatal(err)
		}
		return out, time.Since(began)
	}
	want, fastest := pass()
	for range 4 {
		_, d := pass()
		fastest = min(fastest, d)
	}
	restore := engine.SetSlowdown(3)
	got, slowed := pass()
	restore()
	if slowed < 2*fastest {
		t.Errorf("a slowed pass took %v, the fastest unslowed %v: want at least twice", slowed, fastest)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d: slowed %v, unslowed %v", i, got[i], want[i])
		}
	}
}
