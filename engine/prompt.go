package engine

import "fmt"

// A PromptError reports a prompt that does not fit the context. It wraps
// ErrContextFull.
type PromptError struct {
	Tokens  int  // the prompt's tokens; with AtLeast, a count it has at least
	AtLeast bool // tokenizing stopped once the prompt was sure not to fit
	Room    int  // the positions free in the context
}

func (e *PromptError) Error() string {
	least := ""
	if e.AtLeast {
		least = "at least "
	}
	return fmt.Sprintf("engine: %v: the prompt is %s%d tokens, more than the context of %d", ErrContextFull, least, e.Tokens, e.Room)
}

func (e *PromptError) Unwrap() error { return ErrContextFull }

// CheckPrompt is the check of a prompt's length: n tokens must fit the
// room positions free in a context. Generate and EncodePrompt make it;
// callers that tokenize prompts use EncodePrompt, which stops tokenizing
// as soon as a prompt is sure not to fit.
func CheckPrompt(n, room int) error { return checkPrompt(n, false, room) }

// checkPrompt is CheckPrompt for a count that may be a lower bound.
func checkPrompt(n int, atLeast bool, room int) error {
	if n > room {
		return &PromptError{Tokens: n, AtLeast: atLeast, Room: room}
	}
	return nil
}
