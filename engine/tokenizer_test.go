package engine_test

import (
	"slices"
	"testing"

	"strata/engine"
)

func TestTinyPromptTokens(t *testing.T) {
	v, err := engine.VocabFrom(openTiny(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range loadReference(t).Cases {
		if got := v.Encode(c.Prompt, true); !slices.Equal(got, c.PromptTokens) {
			t.Errorf("%q: got %v want %v", c.Prompt, got, c.PromptTokens)
		}
	}
}
