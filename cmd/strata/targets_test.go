package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"strata/engine/testmodel"
	"strata/gguf"
)

// The target models' metadata files, built once per test binary next to
// it (a few tens of MB: the real vocabularies' embedding rows).
var targets struct {
	sync.Mutex
	files map[string]string
}

var targetVocab = map[string]string{
	"mistral":   filepath.Join("..", "..", "testdata", "vocab", "ggml-vocab-llama-spm.gguf"),
	"magistral": filepath.Join("..", "..", "testdata", "vocab", "ggml-vocab-llama-bpe.gguf"),
}

// targetModel returns the file of Mistral-7B-Instruct-v0.3 ("mistral") or
// Magistral-Small-2509 ("magistral"): their metadata on small layers.
func targetModel(t *testing.T, which string) (path string, template string) {
	t.Helper()
	build, template := testmodel.MistralV03, testmodel.MistralTemplate
	if which == "magistral" {
		build, template = testmodel.Magistral2509, testmodel.MagistralTemplate
	}
	targets.Lock()
	defer targets.Unlock()
	if p, ok := targets.files[which]; ok {
		return p, template
	}
	src, err := gguf.Open(targetVocab[which])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	target, err := build(src)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(filepath.Dir(strataBin), target.Name+".gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := testmodel.Write(w, target.Spec); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if targets.files == nil {
		targets.files = map[string]string{}
	}
	targets.files[which] = path
	return path, template
}

// jinja2 renders a template with Python's jinja2 as Hugging Face does
// (engine/testdata/render_jinja.py): the text, or the template's error.
// Without python3 and jinja2 it skips, except under CI, where it fails.
func jinja2(t *testing.T, template string, messages []map[string]any, addGenerationPrompt bool) (text, errText string) {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(python, "-c", "import jinja2").Run()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 with jinja2 (Debian: python3-jinja2) is needed under CI: %v", err)
		}
		t.Skipf("no python3 with jinja2 (Debian: python3-jinja2): %v", err)
	}
	req := map[string]any{"cases": []any{map[string]any{"template": template, "context": map[string]any{
		"messages": messages, "add_generation_prompt": addGenerationPrompt, "bos_token": "<s>", "eos_token": "</s>"}}}}
	in, _ := json.Marshal(req)
	cmd := exec.Command(python, filepath.Join("..", "..", "engine", "testdata", "render_jinja.py"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render_jinja.py: %v\n%s", err, stderr.String())
	}
	var res []struct {
		Text  string `json:"text"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("render_jinja.py: %s: %v", out, err)
	}
	return res[0].Text, res[0].Error
}

func msg(role, content string) map[string]any {
	return map[string]any{"role": role, "content": content}
}

// TestTargetsInspect: inspect names each target model, its architecture
// and shape, and its chat template, the model's own.
func TestTargetsInspect(t *testing.T) {
	for _, c := range []struct {
		which string
		want  []string
	}{
		{"mistral", []string{"model Mistral 7B Instruct v0.3",
			"architecture llama: 2 layers, embedding 256, feed-forward 512, 32 heads (8 KV) of 128, vocabulary 32768, context 32768, rope base 1e+06",
			"chat template the model's own (tokenizer.chat_template, 3959 bytes of Jinja; closest built-in: mistral-v3)"}},
		{"magistral", []string{"model Magistral Small 2509",
			"architecture llama: 2 layers, embedding 256, feed-forward 512, 32 heads (8 KV) of 128, vocabulary 131072, context 131072, rope base 1e+09",
			"chat template the model's own (tokenizer.chat_template, 12259 bytes of Jinja; closest built-in: mistral-v7-tekken)"}},
	} {
		path, _ := targetModel(t, c.which)
		out, errs, code := strata(t, "inspect", path)
		for _, w := range c.want {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("%s: exit %d, want %q in:\n%.2000s\n%s", c.which, code, w, out, errs)
			}
		}
		out, _, code = strata(t, "inspect", "--json", path)
		var r struct {
			Config struct{ Name string }
			Chat   struct {
				Source string `json:"source"`
				Name   string `json:"name"`
			} `json:"chat_template"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || r.Chat.Source != "model" || r.Config.Name == "" {
			t.Errorf("%s: inspect --json: %v, %+v", c.which, err, r)
		}
	}
}

// TestTargetsRun: run generates on each target model.
func TestTargetsRun(t *testing.T) {
	for _, which := range []string{"mistral", "magistral"} {
		path, _ := targetModel(t, which)
		out, errs, code := strata(t, "run", path, "-p", "Hello", "-n", "6", "--ignore-eos", "-c", "128", "-s", "1", "--backend", "cpu", "--json")
		var r runResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
			t.Fatalf("%s: exit %d, %v: %s %s", which, code, err, out, errs)
		}
		if len(r.Tokens) != 6 || len(r.PromptTokens) < 2 || r.PromptTokens[0] != 1 || r.Stop != "length" {
			t.Errorf("%s: %+v", which, r)
		}
	}
}

// chatPrompts are the prompts chat rendered, from its --verbose log.
func chatPrompts(t *testing.T, stderr string) []string {
	t.Helper()
	var prompts []string
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.Contains(line, `msg="chat prompt"`) {
			continue
		}
		_, rest, _ := strings.Cut(line, " text=")
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		s, _ := strconv.Unquote(q)
		prompts = append(prompts, s)
	}
	return prompts
}

// TestTargetsChat chats with each target model through the binary and
// wants each turn's prompt to be what Python's jinja2 renders from the
// model's own template for the same conversation (less the BOS the
// template writes, which the vocabulary adds as a token): Mistral's system
// prompt in the last user turn, Magistral's default system prompt with its
// [THINK] example, and the answers as the model gave them.
func TestTargetsChat(t *testing.T) {
	for _, c := range []struct {
		which  string
		system string
	}{{"mistral", "Be brief."}, {"mistral", ""}, {"magistral", ""}, {"magistral", "Réponds en français."}} {
		t.Run(fmt.Sprintf("%s, system %q", c.which, c.system), func(t *testing.T) {
			path, template := targetModel(t, c.which)
			args := []string{"--verbose", "chat", path, "-n", "3", "--ignore-eos", "-s", "2", "-c", "1024", "--backend", "cpu"}
			if c.system != "" {
				args = append(args, "--system", c.system)
			}
			cmd := exec.Command(strataBin, args...)
			cmd.Stdin = strings.NewReader("What is GGUF?\nAnd Jinja?\n/exit\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			// The transcript is "> ANSWER\n> ANSWER\n> ".
			turns := strings.Split(strings.TrimSuffix(stdout.String(), "> "), "\n> ")
			prompts := chatPrompts(t, stderr.String())
			if len(turns) != 2 || len(prompts) != 2 {
				t.Fatalf("turns %q, prompts %q", turns, prompts)
			}
			// chat marks an answer -n cut off; the marker is not the answer's.
			answer := cutOff.ReplaceAllString(strings.TrimPrefix(turns[0], "> "), "")
			var history []map[string]any
			if c.system != "" {
				history = append(history, msg("system", c.system))
			}
			history = append(history, msg("user", "What is GGUF?"))
			for i, h := range [][]map[string]any{history, append(history, msg("assistant", answer), msg("user", "And Jinja?"))} {
				want, errText := jinja2(t, template, h, true)
				if errText != "" {
					t.Fatalf("turn %d: jinja2: %s", i, errText)
				}
				if !strings.HasPrefix(want, "<s>") || prompts[i] != strings.TrimPrefix(want, "<s>") {
					t.Errorf("turn %d:\nchat   %q\njinja2 %q", i, prompts[i], want)
				}
			}
			if !strings.Contains(stderr.String(), "template the model's own (tokenizer.chat_template)") {
				t.Errorf("chat does not say it renders the model's template: %s", stderr.String())
			}
		})
	}
}

// TestTargetsServer: strata server renders chat requests with the model's
// own template: the prompt it counts is the tokens of jinja2's rendering,
// and a conversation the template refuses is a 400 with its message.
func TestTargetsServer(t *testing.T) {
	path, template := targetModel(t, "magistral")
	s := startServer(t, path, "-c", "2048")
	if !strings.Contains(s.logText(), "the model's own chat template") {
		t.Errorf("the log does not name the template: %s", s.logText())
	}
	messages := []map[string]any{msg("user", "Bonjour"), msg("assistant", "Salut !"), msg("user", "Ça va ?")}
	body, _ := json.Marshal(map[string]any{"messages": messages, "max_tokens": 1})
	code, _, resp := post(t, s.url+"/v1/chat/completions", "", body)
	var r struct {
		Usage usageJSON `json:"usage"`
	}
	if err := json.Unmarshal(resp, &r); err != nil || code != 200 {
		t.Fatalf("%d %v: %s", code, err, resp)
	}
	want, errText := jinja2(t, template, messages, true)
	if errText != "" {
		t.Fatal(errText)
	}
	out, errs, ec := strata(t, "tokenize", "--special", "--json", path, strings.TrimPrefix(want, "<s>"))
	var ids []int
	if err := json.Unmarshal([]byte(out), &ids); err != nil || ec != 0 {
		t.Fatalf("tokenize: %v %s", err, errs)
	}
	if r.Usage.Prompt != len(ids) {
		t.Errorf("the server's prompt has %d tokens, jinja2's rendering %d", r.Usage.Prompt, len(ids))
	}

	bad := []map[string]any{msg("assistant", "I speak first"), msg("user", "hi")}
	_, refusal := jinja2(t, template, bad, true)
	body, _ = json.Marshal(map[string]any{"messages": bad, "max_tokens": 1})
	code, _, resp = post(t, s.url+"/v1/chat/completions", "", body)
	message, param := errorMessage(t, resp)
	if code != 400 || param != "messages" || refusal == "" || !strings.Contains(message, refusal) {
		t.Errorf("%d, %q (param %q); want 400 with jinja2's %q", code, message, param, refusal)
	}
}

// TestTargetsBadMetadata: a target model whose metadata contradicts
// itself is refused, naming the keys.
func TestTargetsBadMetadata(t *testing.T) {
	path, _ := targetModel(t, "mistral")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src, err := gguf.Open(targetVocab["mistral"])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	a, _ := src.Array("tokenizer.ggml.tokens")
	cases := []struct {
		name string
		kv   gguf.KV
		want string
	}{
		{"vocab_size", gguf.KV{Key: "llama.vocab_size", Value: uint32(32000)},
			"engine: llama.vocab_size is 32000, but token_embd.weight has 32768 rows"},
		{"token list", gguf.KV{Key: "tokenizer.ggml.tokens", Value: a},
			"engine: tokenizer.ggml.tokens holds 32000 tokens, but the model's vocabulary (token_embd.weight, vocab_size) is 32768"},
		{"KV heads", gguf.KV{Key: "llama.attention.head_count_kv", Value: uint32(5)},
			"engine: llama.attention.head_count_kv 5 does not divide llama.attention.head_count 32"},
		{"rope dims", gguf.KV{Key: "llama.rope.dimension_count", Value: uint32(130)},
			"engine: llama.rope.dimension_count 130 does not fit head size 128"},
		{"head size", gguf.KV{Key: "llama.attention.key_length", Value: uint32(64)},
			"engine: llama.attention.value_length 128 differs from llama.attention.key_length 64"},
		{"query heads", gguf.KV{Key: "llama.attention.head_count", Value: uint32(16)},
			`engine: tensor "blk.0.attn_q.weight" has shape [256 4096], want [256 2048]`},
		{"rope base", gguf.KV{Key: "llama.rope.freq_base", Value: float32(-1)}, "engine: rope.freq_base -1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := writeFile(t, "bad.gguf", withMetadata(t, data, c.kv))
			_, errs, code := strata(t, "run", bad, "-p", "hi", "-n", "1", "--backend", "cpu")
			if code != 1 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want one line with %q", code, errs, c.want)
			}
		})
	}
}

// cutOff is chat's mark of an answer that -n cut off.
var cutOff = regexp.MustCompile(` \(cut off: -n \d+\)$`)
