package api

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"strata/engine"
)

// A job is one request's generation. The handler that made it waits on
// wake and takes its events; the scheduler owns the rest.
type job struct {
	id      string
	ctx     context.Context // the request's: done when the client goes away
	prompt  []int32
	set     settings
	arrived time.Time

	// shown is generated, for readers outside the scheduler (the swarm
	// page).
	shown atomic.Int64

	mu     sync.Mutex
	events []event
	wake   chan struct{} // signalled when events arrive

	// Owned by the scheduler.
	sampler    *engine.Sampler
	history    []int32 // prompt and generated tokens
	fed        int     // prompt tokens held in the slot's cache
	cached     int     // of them, reused from an earlier request
	next       int32   // the token to feed at the next step
	generated  int
	text       *engine.TextStream
	stop       Stopper
	start      time.Time // the job entered its slot
	promptTime time.Duration
	first      time.Time // the first token
	last       time.Time // the latest token
	raw        []float32 // the logits before sampling, for logprobs
	retried    bool      // a failed step was retried from an empty cache
}

// An event is text for the client, the log probabilities of the tokens
// behind it, or the end (final).
type event struct {
	text     string
	logprobs []tokenLogprob
	final    *outcome
}

// outcome is how a job ended.
type outcome struct {
	finish  string    // "stop" or "length"
	err     *apiError // a failure instead
	usage   usage
	timings timings
}

func newJob(ctx context.Context, id string, prompt []int32, s settings) *job {
	return &job{id: id, ctx: ctx, prompt: prompt, set: s, arrived: time.Now(), wake: make(chan struct{}, 1)}
}

func (j *job) push(e event) {
	j.mu.Lock()
	j.events = append(j.events, e)
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// take returns the events so far.
func (j *job) take() []event {
	j.mu.Lock()
	defer j.mu.Unlock()
	e := j.events
	j.events = nil
	return e
}

// needs is what the sampler will look at next; log probabilities need
// every logit (the distribution's normalizer).
func (j *job) needs() engine.LogitsNeeds {
	if j.set.logprobs {
		return engine.LogitsNeeds{}
	}
	return j.sampler.Needs(j.history)
}

// progress is the tokens generated so far; safe from any goroutine.
func (j *job) progress() int { return int(j.shown.Load()) }

// usage counts the job's tokens.
func (j *job) usage() usage {
	return usage{
		PromptTokens: len(j.prompt), CompletionTokens: j.generated, TotalTokens: len(j.prompt) + j.generated,
		PromptDetails: &promptDetails{CachedTokens: j.cached},
	}
}

// timings are llama-server's timings of the job.
func (j *job) timings() timings {
	t := timings{CacheN: j.cached, PromptN: len(j.prompt) - j.cached, PromptMS: ms(j.promptTime), PredictedN: j.generated}
	if j.generated > 1 {
		t.PredictedMS = ms(j.last.Sub(j.first))
	}
	perToken := func(n int, msec float64) (float64, float64) {
		if n <= 0 || msec <= 0 {
			return 0, 0
		}
		return msec / float64(n), 1000 * float64(n) / msec
	}
	t.PromptPerTokenMS, t.PromptPerSecond = perToken(t.PromptN, t.PromptMS)
	// The first token comes from the prompt's logits; the others each
	// took a decode step.
	t.PredictedPerTokenMS, t.PredictedPerSecond = perToken(j.generated-1, t.PredictedMS)
	return t
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
