package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type usageJSON struct {
	Prompt     int `json:"prompt_tokens"`
	Completion int `json:"completion_tokens"`
	Total      int `json:"total_tokens"`
	Details    struct {
		Cached int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

// counts drops the cache details.
func (u usageJSON) counts() usageJSON {
	return usageJSON{Prompt: u.Prompt, Completion: u.Completion, Total: u.Total}
}

// clientResult is what testdata/openai/client.mjs prints.
type clientResult struct {
	Models []string `json:"models"`
	Chat   struct {
		Content       string    `json:"content"`
		Finish        string    `json:"finish"`
		Usage         usageJSON `json:"usage"`
		LogprobTokens []string  `json:"logprobTokens"`
	} `json:"chat"`
	Stream struct {
		Content string    `json:"content"`
		Finish  string    `json:"finish"`
		Usage   usageJSON `json:"usage"`
		Chunks  int       `json:"chunks"`
	} `json:"stream"`
	Stop struct {
		Stop    string    `json:"stop"`
		Content string    `json:"content"`
		Finish  string    `json:"finish"`
		Usage   usageJSON `json:"usage"`
	} `json:"stop"`
	Completion struct {
		Text   string    `json:"text"`
		Finish string    `json:"finish"`
		Usage  usageJSON `json:"usage"`
	} `json:"completion"`
	UnknownModel struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	} `json:"unknownModel"`
}

// The client's conversation rendered with the ChatML fallback, as the
// server's log says it renders chats for a model without a template.
const clientChatPrompt = "<|im_start|>system\nYou tell short stories.<|im_end|>\n" +
	"<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n"

// greedyRun is `strata run --temp 0` of prompt for n tokens.
func greedyRun(t *testing.T, prompt string, n string) runResult {
	t.Helper()
	out, errs, code := strata(t, "run", tinyModel, "-p", prompt, "--temp", "0", "-n", n, "--backend", "cpu", "-t", "1", "--json")
	var r runResult
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	return r
}

func finishOf(r runResult) string {
	if r.Stop == "length" {
		return "length"
	}
	return "stop"
}

// checkOpenAIClient runs the openai client against s and checks every
// answer against `strata run --temp 0` on the same rendered prompt.
func checkOpenAIClient(t *testing.T, script string, s *serverProcess, model string) {
	t.Helper()
	cmd := exec.Command("node", script, s.url, model)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the openai client failed: %v\n%s\nserver log:\n%s", err, stderr.String(), s.logText())
	}
	var got clientResult
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output: %v: %s", err, out)
	}
	if !slices.Contains(got.Models, model) {
		t.Errorf("/v1/models lists %v, not %q", got.Models, model)
	}
	want := greedyRun(t, clientChatPrompt, "24")
	wantUsage := usageJSON{Prompt: len(want.PromptTokens), Completion: len(want.Tokens), Total: len(want.PromptTokens) + len(want.Tokens)}
	if got.Chat.Content != want.Text || got.Chat.Finish != finishOf(want) || got.Chat.Usage.counts() != wantUsage {
		t.Errorf("chat completion: %q (%s, %+v)\nstrata run --temp 0: %q (%s, %+v)", got.Chat.Content, got.Chat.Finish, got.Chat.Usage,
			want.Text, finishOf(want), wantUsage)
	}
	if len(got.Chat.LogprobTokens) != len(want.Tokens) || strings.Join(got.Chat.LogprobTokens, "") != want.Text {
		t.Errorf("logprobs name %d tokens %q; the run generated %d: %q", len(got.Chat.LogprobTokens), got.Chat.LogprobTokens, len(want.Tokens), want.Text)
	}
	if got.Stream.Content != want.Text || got.Stream.Finish != finishOf(want) || got.Stream.Usage.counts() != wantUsage {
		t.Errorf("streamed chat: %q (%s, %+v)\nstrata run --temp 0: %q (%s, %+v)", got.Stream.Content, got.Stream.Finish, got.Stream.Usage,
			want.Text, finishOf(want), wantUsage)
	}
	// The streamed request repeats the first: its prompt, but for the
	// last token (whose logits give the first token), comes from the cache.
	if got.Stream.Usage.Details.Cached != len(want.PromptTokens)-1 {
		t.Errorf("the repeated prompt reused %d cached tokens, want %d", got.Stream.Usage.Details.Cached, len(want.PromptTokens)-1)
	}
	if got.Stream.Chunks < 3 {
		t.Errorf("the stream came in %d chunks", got.Stream.Chunks)
	}
	cut := strings.Index(want.Text, got.Stop.Stop)
	if got.Stop.Stop == "" || cut < 0 {
		t.Fatalf("stop string %q is not in the answer %q", got.Stop.Stop, want.Text)
	}
	if got.Stop.Content != want.Text[:cut] || got.Stop.Finish != "stop" || got.Stop.Usage.Completion >= len(want.Tokens) {
		t.Errorf("with stop %q: %q (%s, %d tokens), want %q (stop, fewer than %d tokens)", got.Stop.Stop, got.Stop.Content,
			got.Stop.Finish, got.Stop.Usage.Completion, want.Text[:cut], len(want.Tokens))
	}
	wantText := greedyRun(t, "Once upon a time", "16")
	if got.Completion.Text != wantText.Text || got.Completion.Finish != finishOf(wantText) ||
		got.Completion.Usage.Prompt != len(wantText.PromptTokens) || got.Completion.Usage.Completion != len(wantText.Tokens) {
		t.Errorf("completion: %q (%s, %+v)\nstrata run --temp 0: %q (%s, %d + %d tokens)", got.Completion.Text, got.Completion.Finish,
			got.Completion.Usage, wantText.Text, finishOf(wantText), len(wantText.PromptTokens), len(wantText.Tokens))
	}
	if got.UnknownModel.Status != 400 || !strings.Contains(got.UnknownModel.Message, "no-such-model") {
		t.Errorf("an unknown model: %+v, want 400 naming it", got.UnknownModel)
	}
}

// TestServerOpenAI: the official openai client, against a server on the
// tiny model with two slots, gets the tokens of `strata run --temp 0`.
func TestServerOpenAI(t *testing.T) {
	script := openaiClient(t)
	s := startServer(t, tinyModel, "-np", "2")
	if !strings.Contains(s.logText(), "ChatML") {
		t.Errorf("the log does not say chats fall back to ChatML:\n%s", s.logText())
	}
	checkOpenAIClient(t, script, s, "tiny-mistral-q4km")
}

// TestServerPeers: the same client through three peers on loopback (and a
// replica kept aside), then a browser on the chat and the swarm page.
func TestServerPeers(t *testing.T) {
	script := openaiClient(t)
	dir, swarm := swarmDir(t)
	first := startServe(t, dir, swarm, 0, "first")
	middle := startServe(t, dir, swarm, 1, "middle")
	last := startServe(t, dir, swarm, 2, "last")
	replica := startServe(t, dir, swarm, 1, "replica")
	peers := []string{first.addr, middle.addr, last.addr, replica.addr}
	s := startServer(t, filepath.Join(dir, "split", "manifest.json"), "--peers", strings.Join(peers, ","), "--swarm", swarm, "-np", "2")
	checkOpenAIClient(t, script, s, "tiny-mistral-q4km")
	browse(t, s, "tiny-mistral-q4km", peers, replica)
}
