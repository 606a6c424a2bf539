package engine_test

import (
	"errors"
	"testing"

	"strata/engine"
)

// TestSessionClosed checks that a closed session refuses work with
// ErrClosed instead of reaching for its freed cache.
func TestSessionClosed(t *testing.T) {
	frag, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := frag.NewSession(32)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, frag.Config.Vocab)
	if err := s.Eval(logits, []int32{1, 415}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close() // a second Close does nothing
	if err := s.Eval(logits, []int32{1}); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Eval after Close: %v, want ErrClosed", err)
	}
	if err := frag.Forward(logits, s, engine.Batch{Tokens: []int32{1}}); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Forward after Close: %v, want ErrClosed", err)
	}
	if _, err := engine.Generate(t.Context(), s, []int32{1}, engine.GenerateOptions{MaxTokens: 2}, func(int32) error { return nil }); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("Generate after Close: %v, want ErrClosed", err)
	}
	if s.Context() != 32 || s.Pos() != 2 {
		t.Errorf("after Close: context %d, pos %d; want 32 and 2", s.Context(), s.Pos())
	}
	s.Truncate(0)
}
