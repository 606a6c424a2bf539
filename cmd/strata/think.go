package main

import (
	"strings"

	"strata/engine"
)

// thinkMarks are a vocabulary's control tokens that open and close a
// reasoning block (Magistral's [THINK] and [/THINK]); -1 when it has none.
type thinkMarks struct{ open, close int32 }

const thinkOpen, thinkClose = "[THINK]", "[/THINK]"

func thinkMarksOf(v *engine.Vocab) thinkMarks {
	m := thinkMarks{-1, -1}
	if id, ok := v.Lookup(thinkOpen); ok {
		m.open = id
	}
	if id, ok := v.Lookup(thinkClose); ok {
		m.close = id
	}
	return m
}

// text is the text a marker token shows (control tokens show none), ""
// for other tokens.
func (m thinkMarks) text(tok int32) string {
	switch {
	case tok < 0:
	case tok == m.open:
		return thinkOpen
	case tok == m.close:
		return thinkClose
	}
	return ""
}

// assistantTurn is an answer as the history keeps it: a reasoning block
// the model wrote ("[THINK]…[/THINK]answer") becomes the turn's Reasoning,
// which the model's own template renders back as the model wrote it.
func assistantTurn(answer string, ownTemplate bool) engine.Message {
	before, rest, ok := strings.Cut(answer, thinkOpen)
	if !ownTemplate || !ok || strings.TrimSpace(before) != "" {
		return engine.Message{Role: "assistant", Content: answer}
	}
	reasoning, content, _ := strings.Cut(rest, thinkClose)
	return engine.Message{Role: "assistant", Reasoning: reasoning, Content: content}
}
