package engine

import (
	"context"
	"fmt"
	"time"
)

// A Stack turns tokens into next-token logits: a Session of a fragment
// that holds every layer, or a route of peers that together do.
type Stack interface {
	// VocabSize is the number of logits per position.
	VocabSize() int
	// Eval appends tokens at the next positions and writes the logits of
	// the last one.
	Eval(logits []float32, tokens []int32) error
	// Pos is the number of positions held; Context the most it can hold.
	Pos() int
	Context() int
}

// VocabSize is the number of logits per position.
func (s *Session) VocabSize() int { return s.f.Config.Vocab }

// Eval runs tokens through a whole-model fragment.
func (s *Session) Eval(logits []float32, tokens []int32) error {
	if !s.f.First() || !s.f.Last() {
		return fmt.Errorf("engine: layers %d-%d of %d are not a whole model", s.f.Start, s.f.End-1, s.f.Config.Layers)
	}
	return s.f.Forward(logits, s, Batch{Tokens: tokens})
}

// GenerateOptions control Generate. The zero value generates greedily
// until the end-of-generation token or the end of the context.
type GenerateOptions struct {
	MaxTokens int              // stop after this many tokens; 0 or less: no limit
	IgnoreEOS bool             // keep going past end-of-generation tokens
	IsEOG     func(int32) bool // which tokens end generation; nil: none
	Sampler   SamplerOptions
}

// StopReason says why generation ended.
type StopReason string

// Reasons generation stops.
const (
	StopLength  StopReason = "length"  // MaxTokens reached
	StopEOG     StopReason = "eog"     // an end-of-generation token
	StopContext StopReason = "context" // the context is full
)

// Result is what a generation did and how long it took.
type Result struct {
	Tokens     []int32 // generated tokens (an end-of-generation token excluded)
	Stop       StopReason
	PromptTime time.Duration // the prompt's evaluation, which gives the first token's logits
	// GenerateTime is the time from the prompt's end to the last token:
	// DecodeSteps evaluations (one per token after the first) and the
	// sampling of every token.
	GenerateTime time.Duration
	DecodeSteps  int
}

// Generate feeds prompt to the stack, then samples tokens one at a time,
// calling emit with each. It returns when MaxTokens are generated, an
// end-of-generation token comes, the context is full, ctx is done (with
// ctx's error and the tokens so far) or emit fails.
func Generate(ctx context.Context, s Stack, prompt []int32, o GenerateOptions, emit func(int32) error) (r Result, err error) {
	if len(prompt) == 0 {
		return r, fmt.Errorf("engine: %w: empty prompt", ErrBadInput)
	}
	if err := CheckPrompt(len(prompt), room(s)); err != nil {
		return r, err
	}
	logits := make([]float32, s.VocabSize())
	sampler := NewSampler(o.Sampler, s.VocabSize())
	// At most room+1 tokens can come: each but the last takes a position.
	want := room(s) + 1
	if o.MaxTokens > 0 {
		want = min(want, o.MaxTokens)
	}
	history := make([]int32, 0, len(prompt)+want)
	history = append(history, prompt...)
	r.Tokens = make([]int32, 0, want)
	next := make([]int32, 1)

	start := time.Now()
	if ns, ok := s.(NeedsStack); ok {
		ns.NeedLogits(sampler.Needs(history))
	}
	if err := s.Eval(logits, prompt); err != nil {
		return r, err
	}
	r.PromptTime = time.Since(start)
	start = time.Now()
	defer func() { r.GenerateTime = time.Since(start) }()
	for {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		tok := sampler.Sample(logits, history)
		if !o.IgnoreEOS && o.IsEOG != nil && o.IsEOG(tok) {
			r.Stop = StopEOG
			return r, nil
		}
		r.Tokens = append(r.Tokens, tok)
		history = append(history, tok)
		if err := emit(tok); err != nil {
			return r, err
		}
		if o.MaxTokens > 0 && len(r.Tokens) >= o.MaxTokens {
			r.Stop = StopLength
			return r, nil
		}
		if s.Pos() >= s.Context() {
			r.Stop = StopContext
			return r, nil
		}
		next[0] = tok
		if ns, ok := s.(NeedsStack); ok {
			ns.NeedLogits(sampler.Needs(history))
		}
		if err := s.Eval(logits, next); err != nil {
			return r, err
		}
		r.DecodeSteps++
	}
}

// room is the number of positions the stack can still take.
func room(s Stack) int { return s.Context() - s.Pos() }
