package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"strata/engine"
)

// chatCompletions serves POST /v1/chat/completions.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if e := decodeBody(w, r, s.o.BodyLimit, &req); e != nil {
		writeError(w, e)
		return
	}
	msgs, e := chatMessages(req.Messages)
	if e != nil {
		writeError(w, e)
		return
	}
	set, e := req.settings(s.o.Defaults, false)
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
	m := in.model
	rendered, err := m.Template.Prompt(engine.Chat{Messages: msgs, AddGenerationPrompt: true})
	if err != nil {
		// The template refused the conversation (raise_exception: roles
		// that do not alternate, say): the request's fault.
		writeError(w, badRequest("messages", "field \"messages\": %s", strings.TrimPrefix(err.Error(), "engine: ")))
		return
	}
	prompt := m.Vocab.Encode(rendered, true, true)
	if e := checkPrompt(m, prompt, "messages"); e != nil {
		writeError(w, e)
		return
	}
	j, e := start(r, in, "chatcmpl-", prompt, set)
	if e != nil {
		writeError(w, e)
		return
	}
	defer in.sched.withdraw(j)
	resp := chatResponse{ID: j.id, Object: "chat.completion", Created: time.Now().Unix(), Model: m.ID, SystemFingerprint: "strata"}
	if set.stream {
		s.streamChat(w, r, j, resp)
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
	text := c.text.String()
	choice := chatChoice{Message: &chatOut{Role: "assistant", Content: &text}, FinishReason: &out.finish}
	if set.logprobs {
		choice.Logprobs = &chatLogprobs{Content: nonNilLogprobs(c.logprobs)}
	}
	resp.Choices, resp.Usage, resp.Timings = []chatChoice{choice}, &out.usage, &out.timings
	writeJSON(w, http.StatusOK, resp)
}

// streamChat sends the answer as chat.completion.chunk events.
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, j *job, resp chatResponse) {
	resp.Object = "chat.completion.chunk"
	ev := startSSE(w)
	empty := ""
	chunk := func(delta chatOut, lp []tokenLogprob, finish *string) chatResponse {
		c := resp
		ch := chatChoice{Delta: &delta, FinishReason: finish}
		if j.set.logprobs {
			ch.Logprobs = &chatLogprobs{Content: nonNilLogprobs(lp)}
		}
		c.Choices = []chatChoice{ch}
		return c
	}
	if ev.send(chunk(chatOut{Role: "assistant", Content: &empty}, nil, nil)) != nil {
		return
	}
	out := s.follow(r, j, func(e event) error {
		text := e.text
		return ev.send(chunk(chatOut{Content: &text}, e.logprobs, nil))
	})
	switch {
	case out == nil:
		return
	case out.err != nil:
		ev.fail(out.err)
		return
	}
	last := chunk(chatOut{}, nil, &out.finish)
	last.Timings = &out.timings
	if ev.send(last) != nil {
		return
	}
	if j.set.includeUsage {
		u := resp
		u.Choices, u.Usage = []chatChoice{}, &out.usage
		if ev.send(u) != nil {
			return
		}
	}
	ev.done()
}

func nonNilLogprobs(l []tokenLogprob) []tokenLogprob {
	if l == nil {
		return []tokenLogprob{}
	}
	return l
}

// chatMessages checks the messages and turns them into the template's
// turns. "developer" is OpenAI's newer name for "system".
func chatMessages(in []chatMessage) ([]engine.Message, *apiError) {
	if len(in) == 0 {
		return nil, badRequest("messages", "field \"messages\": want at least one message")
	}
	out := make([]engine.Message, 0, len(in))
	for i, m := range in {
		field := fmt.Sprintf("messages[%d]", i)
		role := m.Role
		switch role {
		case "system", "user", "assistant":
		case "developer":
			role = "system"
		case "":
			return nil, badRequest(field+".role", "field %q: a message needs a role (system, user or assistant)", field+".role")
		default:
			return nil, withCode(badRequest(field+".role", "field %q: role %q is not supported (system, developer, user or assistant)", field+".role", clip(role)), "unsupported_value")
		}
		text, e := messageText(m.Content, field+".content")
		if e != nil {
			return nil, e
		}
		out = append(out, engine.Message{Role: role, Content: text})
	}
	return out, nil
}

// messageText reads a message's content: a string, or a list of text
// parts.
func messageText(raw json.RawMessage, field string) (string, *apiError) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", badRequest(field, "field %q: a message needs content", field)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", withCode(badRequest(field, "field %q: want a string or a list of text parts, got %s", field, clip(string(raw))), "invalid_type")
	}
	var b strings.Builder
	for i, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", withCode(badRequest(fmt.Sprintf("%s[%d]", field, i), "field \"%s[%d]\": only text parts are supported, not %q", field, i, clip(p.Type)), "unsupported_value")
		}
		b.WriteString(*p.Text)
	}
	return b.String(), nil
}
