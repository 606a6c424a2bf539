package main

import (
	"testing"

	"strata/engine"
)

// TestAssistantTurn: an answer that opens with a reasoning block is kept
// as the turn's reasoning and content, for the model's own template to
// render back; other answers, and any answer under a built-in template,
// stay as they are.
func TestAssistantTurn(t *testing.T) {
	for _, c := range []struct {
		answer string
		own    bool
		want   engine.Message
	}{
		{"[THINK]2 + 2 is 4.[/THINK]Four.", true, engine.Message{Role: "assistant", Reasoning: "2 + 2 is 4.", Content: "Four."}},
		{"[THINK]cut off mid-thought", true, engine.Message{Role: "assistant", Reasoning: "cut off mid-thought"}},
		{"\n[THINK]a[/THINK]b", true, engine.Message{Role: "assistant", Reasoning: "a", Content: "b"}},
		{"No thinking.", true, engine.Message{Role: "assistant", Content: "No thinking."}},
		{"Text, then [THINK]x[/THINK]", true, engine.Message{Role: "assistant", Content: "Text, then [THINK]x[/THINK]"}},
		{"[THINK]a[/THINK]b", false, engine.Message{Role: "assistant", Content: "[THINK]a[/THINK]b"}},
	} {
		got := assistantTurn(c.answer, c.own)
		if got.Role != c.want.Role || got.Content != c.want.Content || got.Reasoning != c.want.Reasoning {
			t.Errorf("%q (own template %v): %+v, want %+v", c.answer, c.own, got, c.want)
		}
	}
}
