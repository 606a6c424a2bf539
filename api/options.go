package api

import (
	"encoding/json"
	"math/rand/v2"

	"strata/engine"
)

// Defaults are the sampling settings of a request that gives none (the
// command line's flags).
type Defaults struct {
	MaxTokens int   // -1: until the end of generation or of the context
	Seed      int64 // -1: a random seed for each request
	Sampler   engine.SamplerOptions
}

// settings are a request's validated generation settings.
type settings struct {
	maxTokens    int // 0: no limit
	sampler      engine.SamplerOptions
	stops        []string
	ignoreEOS    bool
	stream       bool
	includeUsage bool
	logprobs     bool
	topLogprobs  int
}

// maxStops bounds the stop strings of a request, and maxStopBytes the
// length of each.
const (
	maxStops     = 16
	maxStopBytes = 256
)

// settings checks p's fields against d, naming the first bad one.
// logprobsIsCount says whether logprobs is a count (completions) rather
// than a boolean (chat).
func (p *params) settings(d Defaults, logprobsIsCount bool) (settings, *apiError) {
	s := settings{maxTokens: d.MaxTokens, sampler: d.Sampler, ignoreEOS: p.IgnoreEOS, stream: p.Stream}
	if s.maxTokens < 0 {
		s.maxTokens = 0
	}
	if p.N != nil && *p.N != 1 {
		return s, withCode(badRequest("n", "field \"n\": strata generates one choice per request (n = 1), not %d", *p.N), "unsupported_value")
	}
	if len(p.Tools) > 0 && string(p.Tools) != "null" && string(p.Tools) != "[]" {
		return s, withCode(badRequest("tools", "field \"tools\": function calling is not supported"), "unsupported_value")
	}
	if f := p.ResponseFormat; f != nil && f.Type != "" && f.Type != "text" {
		return s, withCode(badRequest("response_format", "field \"response_format\": only type \"text\" is supported, not %q", f.Type), "unsupported_value")
	}
	for _, m := range []struct {
		name string
		v    *int
	}{{"max_tokens", p.MaxTokens}, {"max_completion_tokens", p.MaxCompletionTokens}} {
		if m.v == nil {
			continue
		}
		if *m.v < 1 {
			return s, badRequest(m.name, "field %q: want at least 1 token, got %d", m.name, *m.v)
		}
		s.maxTokens = *m.v
	}
	o := &s.sampler
	check := func(name string, v *float64, lo, hi float64, dst *float32) *apiError {
		if v == nil {
			return nil
		}
		if !(*v >= lo && *v <= hi) {
			return badRequest(name, "field %q: want a value in [%g, %g], got %g", name, lo, hi, *v)
		}
		*dst = float32(*v)
		return nil
	}
	for _, c := range []struct {
		name   string
		v      *float64
		lo, hi float64
		dst    *float32
	}{
		{"temperature", p.Temperature, 0, 2, &o.Temperature},
		{"top_p", p.TopP, 0, 1, &o.TopP},
		{"min_p", p.MinP, 0, 1, &o.MinP},
		{"frequency_penalty", p.FrequencyPenalty, -2, 2, &o.FrequencyPenalty},
		{"presence_penalty", p.PresencePenalty, -2, 2, &o.PresencePenalty},
		{"repeat_penalty", p.RepeatPenalty, 0, 10, &o.RepeatPenalty},
	} {
		if err := check(c.name, c.v, c.lo, c.hi, c.dst); err != nil {
			return s, err
		}
	}
	if p.TopK != nil {
		if *p.TopK < 0 {
			return s, badRequest("top_k", "field \"top_k\": want 0 (all) or more, got %d", *p.TopK)
		}
		o.TopK = *p.TopK
	}
	seed := d.Seed
	if p.Seed != nil {
		seed = *p.Seed
	}
	if seed < 0 {
		o.Seed = rand.Uint64() >> 1
	} else {
		o.Seed = uint64(seed)
	}
	stops, err := stringOrList(p.Stop, "stop")
	if err != nil {
		return s, err
	}
	if len(stops) > maxStops {
		return s, badRequest("stop", "field \"stop\": at most %d stop strings, got %d", maxStops, len(stops))
	}
	for _, st := range stops {
		if len(st) > maxStopBytes {
			return s, badRequest("stop", "field \"stop\": a stop string of %d bytes, more than %d", len(st), maxStopBytes)
		}
		if st != "" {
			s.stops = append(s.stops, st)
		}
	}
	if p.StreamOptions != nil {
		if !p.Stream {
			return s, badRequest("stream_options", "field \"stream_options\": only with \"stream\": true")
		}
		s.includeUsage = p.StreamOptions.IncludeUsage
	}
	if e := p.logprobSettings(&s, logprobsIsCount); e != nil {
		return s, e
	}
	return s, nil
}

// maxTopLogprobs is OpenAI's bound on top_logprobs.
const maxTopLogprobs = 20

func (p *params) logprobSettings(s *settings, isCount bool) *apiError {
	if len(p.Logprobs) == 0 || string(p.Logprobs) == "null" {
		if p.TopLogprobs != nil && *p.TopLogprobs > 0 {
			return badRequest("top_logprobs", "field \"top_logprobs\": only with \"logprobs\": true")
		}
		return nil
	}
	if isCount { // completions: logprobs is how many alternatives
		var n int
		if json.Unmarshal(p.Logprobs, &n) != nil {
			return withCode(badRequest("logprobs", "field \"logprobs\": want an integer, got %s", clip(string(p.Logprobs))), "invalid_type")
		}
		if n < 0 || n > maxTopLogprobs {
			return badRequest("logprobs", "field \"logprobs\": want 0 to %d, got %d", maxTopLogprobs, n)
		}
		s.logprobs, s.topLogprobs = true, n
		return nil
	}
	if json.Unmarshal(p.Logprobs, &s.logprobs) != nil {
		return withCode(badRequest("logprobs", "field \"logprobs\": want a boolean, got %s", clip(string(p.Logprobs))), "invalid_type")
	}
	if p.TopLogprobs != nil {
		if n := *p.TopLogprobs; n < 0 || n > maxTopLogprobs {
			return badRequest("top_logprobs", "field \"top_logprobs\": want 0 to %d, got %d", maxTopLogprobs, n)
		}
		if !s.logprobs && *p.TopLogprobs > 0 {
			return badRequest("top_logprobs", "field \"top_logprobs\": only with \"logprobs\": true")
		}
		s.topLogprobs = *p.TopLogprobs
	}
	return nil
}
