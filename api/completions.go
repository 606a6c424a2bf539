package api

import (
	"encoding/json"
	"net/http"
	"time"

	"strata/engine"
)

// completions serves POST /v1/completions. The prompt is tokenized as
// `strata run` tokenizes -p: with BOS, control tokens as plain text.
func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	if e := decodeBody(w, r, s.o.BodyLimit, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Echo {
		writeError(w, withCode(badRequest("echo", "field \"echo\": echoing the prompt is not supported"), "unsupported_value"))
		return
	}
	set, e := req.settings(s.o.Defaults, true)
	if e != nil {
		writeError(w, e)
		return
	}
	in, e := s.acquire(r, req.Model)
	if in == nil {
		if e != nil {
			writeError(w, e)
		}
		return
	}
	defer s.release(in)
	prompt, e := completionPrompt(in.model.Vocab, req.Prompt)
	if e != nil {
		writeError(w, e)
		return
	}
	if e := checkPrompt(in.model, prompt, "prompt"); e != nil {
		writeError(w, e)
		return
	}
	j, e := start(r, in, "cmpl-", prompt, set)
	if e != nil {
		writeError(w, e)
		return
	}
	defer in.sched.withdraw(j)
	resp := completionResponse{ID: j.id, Object: "text_completion", Created: time.Now().Unix(), Model: in.model.ID, SystemFingerprint: "strata"}
	choice := func(text string, lp []tokenLogprob, offset int, finish *string) []completionChoice {
		c := completionChoice{Text: text, FinishReason: finish}
		if set.logprobs {
			c.Logprobs = legacyLogprobs(lp, offset)
		}
		return []completionChoice{c}
	}
	if set.stream {
		ev := startSSE(w)
		offset := 0
		out := s.follow(r, j, func(e event) error {
			c := resp
			c.Choices = choice(e.text, e.logprobs, offset, nil)
			offset += len(e.text)
			return ev.send(c)
		})
		switch {
		case out == nil:
			return
		case out.err != nil:
			ev.fail(out.err)
			return
		}
		last := resp
		last.Choices, last.Timings = choice("", nil, offset, &out.finish), &out.timings
		if set.includeUsage {
			last.Usage = &out.usage
		}
		if ev.send(last) == nil {
			ev.done()
		}
		return
	}
	var c collected
	out := s.follow(r, j, c.add)
	switch {
	case out == nil:
		return
	case out.err != nil:
		writeError(w, out.err)
		return
	}
	resp.Choices, resp.Usage, resp.Timings = choice(c.text.String(), c.logprobs, 0, &out.finish), &out.usage, &out.timings
	writeJSON(w, http.StatusOK, resp)
}

// completionPrompt reads the prompt: a string, a list of one string, or
// a list of token ids of v.
func completionPrompt(v *engine.Vocab, raw json.RawMessage) ([]int32, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, badRequest("prompt", "field \"prompt\": a completion needs a prompt")
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return v.Encode(text, true, false), nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil {
		if len(texts) != 1 {
			return nil, withCode(badRequest("prompt", "field \"prompt\": one prompt per request, not %d", len(texts)), "unsupported_value")
		}
		return v.Encode(texts[0], true, false), nil
	}
	var ids []int64
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, withCode(badRequest("prompt", "field \"prompt\": want a string, a list of one string or a list of token ids, got %s", clip(string(raw))), "invalid_type")
	}
	out := make([]int32, len(ids))
	for i, id := range ids {
		if id < 0 || id >= int64(v.Len()) {
			return nil, badRequest("prompt", "field \"prompt\": token %d at %d is not in the vocabulary of %d", id, i, v.Len())
		}
		out[i] = int32(id)
	}
	return out, nil
}

// legacyLogprobs is the completions endpoint's shape of log
// probabilities; offset is where the text starts in the answer.
func legacyLogprobs(lp []tokenLogprob, offset int) *completionLogprobs {
	out := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	for _, t := range lp {
		out.Tokens = append(out.Tokens, t.Token)
		out.TokenLogprobs = append(out.TokenLogprobs, t.Logprob)
		top := map[string]float64{}
		for _, a := range t.TopLogprobs {
			top[a.Token] = a.Logprob
		}
		out.TopLogprobs = append(out.TopLogprobs, top)
		out.TextOffset = append(out.TextOffset, offset)
		offset += len(t.Token)
	}
	return out
}
