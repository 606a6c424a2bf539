package engine_test

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"strata/engine"
)

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestEncodePrompt: a prompt that fits gives Encode's tokens; one that
// does not is refused, with its count when it was tokenized whole, or a
// count it has at least when tokenizing stopped early.
func TestEncodePrompt(t *testing.T) {
	for _, name := range vocabFiles {
		v := openVocab(t, name)
		text := "Once upon a time, there was a little robot who"
		all := v.Encode(text, true, false)
		for _, room := range []int{len(all) + 100, len(all), len(all) - 1, 1, 0} {
			got, err := v.EncodePrompt(text, true, false, room)
			var pe *engine.PromptError
			switch {
			case room >= len(all):
				if err != nil || !slices.Equal(got, all) {
					t.Errorf("%s, room %d: %v, %v; want %v", name, room, got, err, all)
				}
			case !errors.As(err, &pe) || !errors.Is(err, engine.ErrContextFull) || pe.Room != room || pe.Tokens <= room || pe.Tokens > len(all):
				t.Errorf("%s, room %d: %v, want a PromptError", name, room, err)
			case !pe.AtLeast && pe.Tokens != len(all):
				t.Errorf("%s, room %d: %v, want the count %d", name, room, err, len(all))
			}
		}
	}
}

// TestEncodePromptBoundedCost: a 50 MB prompt for a context of 4096 is
// refused having allocated next to nothing (tokenized whole it took 7.2
// GB), with or without special tokens to look for on the way.
func TestEncodePromptBoundedCost(t *testing.T) {
	text := strings.Repeat("Once upon a time, there was a little robot who ", 50<<20/48)
	for _, name := range vocabFiles {
		v := openVocab(t, name)
		for _, special := range []bool{false, true} {
			var err error
			n := allocated(func() { _, err = v.EncodePrompt(text, true, special, 4096) })
			var pe *engine.PromptError
			if !errors.As(err, &pe) || !pe.AtLeast {
				t.Errorf("%s, special %v: %v, want a PromptError counted at least", name, special, err)
			}
			t.Logf("%s, special %v: %v; %d bytes allocated", name, special, err, n)
			if n > 4<<20 {
				t.Errorf("%s, special %v: %d bytes allocated, want at most 4 MiB", name, special, n)
			}
		}
	}
}
