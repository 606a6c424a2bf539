package main

// The CLI as llama.cpp users expect it, and the messages a new user
// meets, each through the real binary (issue 11).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stderrLines drops the log lines (level=...) of a stderr.
func stderrLines(errs string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(errs, "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "level=") {
			lines = append(lines, l)
		}
	}
	return lines
}

// failsWith runs the binary and wants it to fail with one line of error
// holding want.
func failsWith(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errs, code := strata(t, args...)
	lines := stderrLines(errs)
	if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "strata: ") || !strings.Contains(lines[0], want) {
		t.Errorf("%v: exit %d, stdout %q, stderr %q: want one line with %q", args, code, out, errs, want)
	}
}

// TestInspectFileTypeName: inspect shows general.file_type by its name,
// Q4_K_M, beside the number, and in --json as file_type.
func TestInspectFileTypeName(t *testing.T) {
	out, errs, code := strata(t, "inspect", tinyModel)
	if code != 0 || !strings.Contains(out, "general.file_type") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "general.file_type") && !strings.HasSuffix(strings.TrimSpace(l), "Q4_K_M (15)") {
			t.Errorf("inspect shows %q, want Q4_K_M (15)", l)
		}
	}
	out, _, _ = strata(t, "inspect", "--json", tinyModel)
	if !strings.Contains(out, `"file_type": "Q4_K_M"`) {
		t.Errorf("inspect --json has no file_type Q4_K_M")
	}
}

// runOut is what run --json prints.
type runOut struct {
	PromptTokens []int32 `json:"prompt_tokens"`
	Tokens       []int32 `json:"tokens"`
	Text         string  `json:"text"`
	Stop         string  `json:"stop"`
	Device       string  `json:"device"`
}

// runJSON runs `strata run ... --json` and decodes its line.
func runJSON(t *testing.T, env []string, args ...string) (runOut, string) {
	t.Helper()
	out, errs, code := strataEnv(t, env, append(append([]string{"run"}, args...), "--json")...)
	var r runOut
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("run %v: exit %d, %q %q", args, code, out, errs)
	}
	return r, errs
}

// tokenizeJSON is `strata tokenize --json MODEL TEXT` with flags.
func tokenizeJSON(t *testing.T, text string, flags ...string) []int32 {
	t.Helper()
	out, errs, code := strata(t, append(append([]string{"tokenize", tinyModel, "--json"}, flags...), "--", text)...)
	var ids []int32
	if code != 0 || json.Unmarshal([]byte(out), &ids) != nil {
		t.Fatalf("tokenize %q: exit %d, %q %q", text, code, out, errs)
	}
	return ids
}

// TestModelFlag: -m MODEL names the model as the positional argument
// does, in run, tokenize, inspect and chat; both at once is refused.
func TestModelFlag(t *testing.T) {
	args := []string{"-p", "Once upon a time", "--temp", "0", "-n", "8", "--ignore-eos", "--backend", "cpu"}
	a, _ := runJSON(t, nil, append([]string{tinyModel}, args...)...)
	b, _ := runJSON(t, nil, append([]string{"-m", tinyModel}, args...)...)
	c, _ := runJSON(t, nil, append([]string{"--model", tinyModel}, args...)...)
	if len(a.Tokens) != 8 || !slices.Equal(a.Tokens, b.Tokens) || !slices.Equal(a.Tokens, c.Tokens) {
		t.Errorf("positional %v, -m %v, --model %v", a.Tokens, b.Tokens, c.Tokens)
	}
	out, errs, code := strata(t, "tokenize", "-m", tinyModel, "--json", "Hello")
	if code != 0 || strings.TrimSpace(out) != "[1,15043]" {
		t.Errorf("tokenize -m: exit %d %q %q", code, out, errs)
	}
	if out, _, code := strata(t, "inspect", "-m", tinyModel); code != 0 || !strings.Contains(out, "architecture llama") {
		t.Errorf("inspect -m: exit %d", code)
	}
	cmd := exec.Command(strataBin, "chat", "-m", tinyModel, "--chat-template", "mistral-v3", "-n", "2", "--backend", "cpu")
	cmd.Stdin = strings.NewReader("Hi\n/exit\n")
	if out, err := cmd.Output(); err != nil || strings.Count(string(out), "> ") < 2 {
		t.Errorf("chat -m: %v %q", err, out)
	}
	failsWith(t, "give the model once, with -m or as the argument", "run", "-m", tinyModel, tinyModel, "-p", "hi")
	failsWith(t, "run takes one MODEL argument (or -m MODEL), got 0", "run", "-p", "hi")
}

// TestTemperatureAlias: --temperature is --temp.
func TestTemperatureAlias(t *testing.T) {
	for _, temp := range []string{"0", "1.3"} {
		args := []string{tinyModel, "-p", "The capital of France is", "-n", "12", "-s", "11", "--ignore-eos", "--backend", "cpu"}
		a, _ := runJSON(t, nil, append(args, "--temp", temp)...)
		b, _ := runJSON(t, nil, append(args, "--temperature", temp)...)
		if !slices.Equal(a.Tokens, b.Tokens) {
			t.Errorf("--temp %s %v, --temperature %s %v", temp, a.Tokens, temp, b.Tokens)
		}
	}
	greedy, _ := runJSON(t, nil, tinyModel, "-p", "The capital of France is", "-n", "12", "--ignore-eos", "--temp", "0")
	hot, _ := runJSON(t, nil, tinyModel, "-p", "The capital of France is", "-n", "12", "--ignore-eos", "--temperature", "5", "--top-k", "0", "--min-p", "0", "-s", "3")
	if slices.Equal(greedy.Tokens, hot.Tokens) {
		t.Errorf("--temperature 5 sampled the greedy tokens: it was not read")
	}
}

// TestEscapes: escapes in -p (\n, \t, \\, \", \xNN) are processed by
// default, as with -e, and kept with --no-escape; -r's are processed too.
func TestEscapes(t *testing.T) {
	for _, c := range []struct {
		flags []string
		text  string // what the prompt must tokenize as
	}{
		{nil, "one\ntwo\tthree \\ \"four\" A"},
		{[]string{"-e"}, "one\ntwo\tthree \\ \"four\" A"},
		{[]string{"--escape"}, "one\ntwo\tthree \\ \"four\" A"},
		{[]string{"--no-escape"}, `one\ntwo\tthree \\ \"four\" \x41`},
		{[]string{"--escape=false"}, `one\ntwo\tthree \\ \"four\" \x41`},
	} {
		r, _ := runJSON(t, nil, append([]string{tinyModel, "-p", `one\ntwo\tthree \\ \"four\" \x41`, "-n", "1"}, c.flags...)...)
		if want := tokenizeJSON(t, c.text); !slices.Equal(r.PromptTokens, want) {
			t.Errorf("%v: prompt tokens %v, want those of %q: %v", c.flags, r.PromptTokens, c.text, want)
		}
	}
}

// TestPromptFileAsIs: -f FILE is the prompt byte for byte (backslashes
// and the final newline kept), and the help says so.
func TestPromptFileAsIs(t *testing.T) {
	text := "Once upon a time\\n there\nwas\n"
	file := writeFile(t, "prompt.txt", []byte(text))
	r, _ := runJSON(t, nil, tinyModel, "-f", file, "-n", "1")
	if want := tokenizeJSON(t, text); !slices.Equal(r.PromptTokens, want) {
		t.Errorf("-f: prompt tokens %v, want the file's %v", r.PromptTokens, want)
	}
	out, _, _ := strata(t, "run", "--help")
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "--file") && !strings.Contains(l, "as it is: no escapes processed, nothing trimmed") {
			t.Errorf("run --help: %q", l)
		}
	}
}

// TestSpecial: --special turns the text of control tokens in the prompt
// into them (</s> into EOS, <s> into BOS without a second one); without
// it they stay text.
func TestSpecial(t *testing.T) {
	r, _ := runJSON(t, nil, tinyModel, "-p", "hi</s>there", "-n", "1", "--special")
	if !slices.Contains(r.PromptTokens, 2) {
		t.Errorf("--special: </s> is not EOS: %v", r.PromptTokens)
	}
	r, _ = runJSON(t, nil, tinyModel, "-p", "hi</s>there", "-n", "1")
	if slices.Contains(r.PromptTokens, 2) {
		t.Errorf("without --special, </s> became EOS: %v", r.PromptTokens)
	}
	r, _ = runJSON(t, nil, tinyModel, "-p", "<s>hi", "-n", "1", "--special")
	if want := tokenizeJSON(t, "hi"); !slices.Equal(r.PromptTokens, want) {
		t.Errorf("--special <s>hi: %v, want one BOS: %v", r.PromptTokens, want)
	}
}

// TestNoBOS: --no-bos leaves the begin-of-text token out of the prompt.
func TestNoBOS(t *testing.T) {
	with, _ := runJSON(t, nil, tinyModel, "-p", "Hello", "-n", "1")
	without, _ := runJSON(t, nil, tinyModel, "-p", "Hello", "-n", "1", "--no-bos")
	if !slices.Equal(with.PromptTokens, []int32{1, 15043}) || !slices.Equal(without.PromptTokens, []int32{15043}) {
		t.Errorf("prompt tokens %v, with --no-bos %v", with.PromptTokens, without.PromptTokens)
	}
}

// TestStopStrings: -r, --reverse-prompt and --stop end the text where it
// reaches one of them, which is not printed; the JSON says stop "stop".
// A stop string keeps its commas.
func TestStopStrings(t *testing.T) {
	args := []string{tinyModel, "-p", "Once upon a time", "--temp", "0", "-n", "24", "--ignore-eos", "--backend", "cpu"}
	full, _ := runJSON(t, nil, args...)
	if len(full.Text) < 20 {
		t.Fatalf("a short text: %q", full.Text)
	}
	// A stop string from the middle of the text, across a token boundary.
	at := len(full.Text) / 2
	stop := full.Text[at : at+4]
	want := full.Text[:strings.Index(full.Text, stop)]
	for _, flag := range []string{"-r", "--reverse-prompt", "--stop"} {
		r, _ := runJSON(t, nil, append(args, flag, stop)...)
		if r.Text != want || r.Stop != "stop" {
			t.Errorf("%s %q: text %q, stop %q; want %q, stop", flag, stop, r.Text, r.Stop, want)
		}
	}
	// The first of two that comes in the text.
	later := full.Text[len(full.Text)-3:]
	if r, _ := runJSON(t, nil, append(args, "-r", later, "-r", stop)...); r.Text != want {
		t.Errorf("-r %q -r %q: %q, want %q", later, stop, r.Text, want)
	}
	// Streamed: the text up to the stop string, then the newline run ends with.
	out, errs, code := strata(t, append([]string{"run"}, append(args, "-r", stop)...)...)
	if code != 0 || out != want+"\n" {
		t.Errorf("-r %q streamed: exit %d, %q, want %q; %s", stop, code, out, want+"\n", errs)
	}
	// "S,x" is one stop string, not two.
	if r, _ := runJSON(t, nil, append(args, "-r", stop+",\x01")...); r.Stop != "length" || r.Text != full.Text {
		t.Errorf("-r %q was cut at its comma: stop %q, text %q", stop+",\x01", r.Stop, r.Text)
	}
}

// TestDefaultContext: without -c the context is the model's trained
// one (256 positions here, where -c 4096 was the default), and where
// the KV cache would not fit in memory it is capped, saying so.
func TestDefaultContext(t *testing.T) {
	small := buildModel(t, "small.gguf", smallSpec())
	r, errs := runJSON(t, nil, small, "-p", "a b c", "-n", "1000", "--ignore-eos")
	if r.Stop != "context" || len(r.PromptTokens)+len(r.Tokens) != 257 {
		t.Errorf("stop %q after %d + %d tokens, want the trained context of 256 (+1 sampled)", r.Stop, len(r.PromptTokens), len(r.Tokens))
	}
	if strings.Contains(errs, "capped") {
		t.Errorf("the context was capped: %s", errs)
	}
	// 24 MiB: 3/4 of it less the weights and activations leaves room
	// for 256 positions of tinyModel's 4096.
	r, errs = runJSON(t, []string{"STRATA_MEMORY=24M"}, tinyModel, "-p", "hi", "-n", "1000", "--ignore-eos", "--backend", "cpu")
	var code int
	if !strings.Contains(errs, `msg="the context is capped by memory (-c sets it)" ctx_size=256 trained=4096`) || !strings.Contains(errs, "of=STRATA_MEMORY") {
		t.Errorf("no message of the cap: %s", errs)
	}
	if r.Stop != "context" || len(r.PromptTokens)+len(r.Tokens) != 257 {
		t.Errorf("capped: stop %q after %d + %d tokens, want 256 positions", r.Stop, len(r.PromptTokens), len(r.Tokens))
	}
	// -c is taken as given, and checked against memory.
	if _, errs := runJSON(t, []string{"STRATA_MEMORY=24M"}, tinyModel, "-p", "hi", "-n", "1", "-c", "300", "--backend", "cpu"); strings.Contains(errs, "capped") {
		t.Errorf("-c 300 was capped: %s", errs)
	}
	_, errs, code = strataEnv(t, []string{"STRATA_MEMORY=24M"}, "run", tinyModel, "-p", "hi", "-c", "16384", "--backend", "cpu")
	if code == 0 || !strings.Contains(errs, "-c 16384: needs") || !strings.Contains(errs, "STRATA_MEMORY is 24.0 MiB") {
		t.Errorf("-c 16384 in 24 MiB: exit %d %q", code, errs)
	}
	out, errs, code := strataEnv(t, []string{"STRATA_MEMORY=lots"}, "run", tinyModel, "-p", "hi")
	if code == 0 || strings.TrimSpace(errs) != "strata: STRATA_MEMORY=lots: want a size in bytes, or with a unit: 512M, 16G, 1T" {
		t.Errorf("STRATA_MEMORY=lots: exit %d, %q %q", code, out, errs)
	}
	// The weights, copied into memory of strata's own by default, are
	// counted before any is loaded; --mmap leaves them in the file's
	// mapping, which the page cache holds.
	_, errs, code = strataEnv(t, []string{"STRATA_MEMORY=8M"}, "run", tinyModel, "-p", "hi", "-n", "1", "--backend", "cpu")
	if want := "strata: the weights need 12.9 MiB of memory of strata's own, and STRATA_MEMORY is 8.0 MiB (--mmap computes from the file's mapping instead)"; code == 0 || strings.TrimSpace(errs) != want {
		t.Errorf("weights in 8 MiB: exit %d %q, want %q", code, errs, want)
	}
	if _, errs := runJSON(t, []string{"STRATA_MEMORY=8M"}, tinyModel, "-p", "hi", "-n", "1", "-c", "16", "--backend", "cpu", "--mmap"); strings.Contains(errs, "weights") {
		t.Errorf("--mmap in 8 MiB: %s", errs)
	}
	_, errs, code = strataEnv(t, nil, "run", tinyModel, "-p", "hi", "--mmap", "--no-mmap")
	if code == 0 || strings.TrimSpace(errs) != "strata: --mmap and --no-mmap: give one" {
		t.Errorf("--mmap --no-mmap: exit %d %q", code, errs)
	}
}

// TestTopPZero: --top-p 0 keeps the most likely token alone: at any
// temperature and seed it draws the greedy tokens.
func TestTopPZero(t *testing.T) {
	args := []string{tinyModel, "-p", "The capital of France is", "-n", "16", "--ignore-eos", "--backend", "cpu", "--top-k", "0", "--min-p", "0"}
	greedy, _ := runJSON(t, nil, append(args, "--temp", "0")...)
	differs := false
	for _, seed := range []string{"1", "2", "3"} {
		r, _ := runJSON(t, nil, append(args, "--temp", "1.5", "--top-p", "0", "-s", seed)...)
		if !slices.Equal(r.Tokens, greedy.Tokens) {
			t.Errorf("--top-p 0 -s %s: %v, want the greedy %v", seed, r.Tokens, greedy.Tokens)
		}
		if r, _ := runJSON(t, nil, append(args, "--temp", "1.5", "--top-p", "1", "-s", seed)...); !slices.Equal(r.Tokens, greedy.Tokens) {
			differs = true
		}
	}
	if !differs {
		t.Errorf("--top-p 1 drew the greedy tokens for every seed")
	}
}

// TestVersion: `strata version` and `--version` print the version, the
// commit (when the build knows it) and the Go version.
func TestVersion(t *testing.T) {
	a, _, code := strata(t, "version")
	b, _, code2 := strata(t, "--version")
	if code != 0 || code2 != 0 || a != b {
		t.Fatalf("version: exit %d %q; --version: exit %d %q", code, a, code2, b)
	}
	if !strings.HasPrefix(a, "strata dev (commit ") || !strings.Contains(a, "built with "+runtime.Version()+" for "+runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("version: %q", a)
	}
	if stampedCommit != "" && !strings.Contains(a, "(commit "+stampedCommit) {
		t.Errorf("version: %q, want commit %s", a, stampedCommit)
	}
	if stampedCommit == "" {
		t.Logf("the go command stamped no commit here (a git worktree, say): %q", a)
	}
	// A build without VCS stamping takes the commit the Makefile gives.
	bin := filepath.Join(t.TempDir(), "strata")
	if out, err := exec.Command("go", "build", "-buildvcs=false", "-ldflags", "-X main.commit=0123abc -X main.version=v9.9", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if want := "strata v9.9 (commit 0123abc), built with " + runtime.Version(); err != nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("-X main.commit: %q (%v), want %q…", out, err, want)
	}
}

// TestRunInterrupted: Ctrl-C (SIGINT) stops run: it prints what was
// generated, the timings, and exits with 130; with --json, the JSON with
// stop "interrupted".
func TestRunInterrupted(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		args := []string{"--verbose", "run", tinyModel, "-p", "Once upon a time", "-n", "-1", "--ignore-eos", "--backend", "cpu", "-t", "1"}
		if asJSON {
			args = append(args, "--json")
		}
		cmd := exec.Command(strataBin, args...)
		var out bytes.Buffer
		cmd.Stdout = &out
		errs, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		sc := bufio.NewScanner(errs)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "msg=token n=20 ") {
				cmd.Process.Signal(syscall.SIGINT)
				break
			}
		}
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
		cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Fatalf("json %v: exit %d, want 130; stderr %s", asJSON, code, log.String())
		}
		if !strings.Contains(log.String(), "generation: ") || !strings.Contains(log.String(), "strata: interrupted") {
			t.Errorf("json %v: no timings or no word of the interrupt: %s", asJSON, log.String())
		}
		if !asJSON {
			if len(out.String()) < 20 {
				t.Errorf("printed %q before the interrupt", out.String())
			}
			continue
		}
		var r runOut
		if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Stop != "interrupted" || len(r.Tokens) < 20 {
			t.Errorf("--json: %v, stop %q after %d tokens", err, r.Stop, len(r.Tokens))
		}
	}
}

// TestTokenizeSpecialOneBOS: tokenize --special of a text that begins
// with <s> gives one BOS, the text's; without --special <s> is text.
func TestTokenizeSpecialOneBOS(t *testing.T) {
	if ids := tokenizeJSON(t, "<s>Hello", "--special"); !slices.Equal(ids, []int32{1, 15043}) {
		t.Errorf("--special <s>Hello: %v, want [1 15043]", ids)
	}
	if ids := tokenizeJSON(t, "<s>Hello", "--special", "--no-bos"); !slices.Equal(ids, []int32{1, 15043}) {
		t.Errorf("--special --no-bos <s>Hello: %v, want [1 15043]", ids)
	}
	if ids := tokenizeJSON(t, "<s>Hello"); len(ids) < 3 || ids[0] != 1 || slices.Contains(ids[1:], 1) {
		t.Errorf("<s>Hello as text: %v", ids)
	}
}

// chatTranscript runs chat with the lines as its input and returns
// stdout and stderr.
func chatTranscript(t *testing.T, input string, args ...string) (string, string) {
	t.Helper()
	all := append([]string{"chat"}, args...)
	if len(args) > 0 && args[0] == "--verbose" { // the app's flag, before the command
		all = append([]string{"--verbose", "chat"}, args[1:]...)
	}
	cmd := exec.Command(strataBin, all...)
	cmd.Stdin = strings.NewReader(input)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("chat %v: %v: %s", args, err, errs.String())
	}
	return out.String(), errs.String()
}

// TestChatCutOff: an answer that -n cut off is marked so; one that a
// stop string ended is not.
func TestChatCutOff(t *testing.T) {
	args := []string{tinyModel, "--chat-template", "mistral-v3", "-n", "6", "--ignore-eos", "--temp", "0", "--backend", "cpu"}
	out, _ := chatTranscript(t, "Hello there\nAnd then?\n", args...)
	if n := strings.Count(out, " (cut off: -n 6)\n"); n != 2 {
		t.Fatalf("%d answers marked cut off, want 2:\n%s", n, out)
	}
	answer := strings.TrimPrefix(strings.SplitN(out, " (cut off", 2)[0], "> ")
	stop := answer[len(answer)/2:][:3]
	out, _ = chatTranscript(t, "Hello there\n", append(args, "-r", stop)...)
	if strings.Contains(out, "cut off") || !strings.Contains(out, "> "+answer[:strings.Index(answer, stop)]+"\n") {
		t.Errorf("-r %q: %q, want the answer %q up to it, unmarked", stop, out, answer)
	}
}

// TestChatContextShift: a conversation longer than the context goes on:
// the oldest messages are forgotten (said once for each answer that
// needed it), the system prompt is in every prompt, and every message
// gets an answer.
func TestChatContextShift(t *testing.T) {
	const system = "You are a robot who counts"
	var input strings.Builder
	for i := range 8 {
		fmt.Fprintf(&input, "Please tell me about the number %d\n", i)
	}
	out, errs := chatTranscript(t, input.String(), "--verbose", tinyModel, "--chat-template", "mistral-v3", "-c", "96",
		"-n", "24", "--ignore-eos", "--temp", "0", "--backend", "cpu", "--system", system)
	if strings.Contains(out, "does not fit") || strings.Contains(out, "(context full)") {
		t.Fatalf("a dead end:\n%s", out)
	}
	if n := strings.Count(out, "(cut off: -n 24)"); n != 8 {
		t.Errorf("%d of 8 messages answered in full:\n%s", n, out)
	}
	if !strings.Contains(out, "forgotten, the system prompt kept)") {
		t.Errorf("nothing was forgotten in 96 positions:\n%s", out)
	}
	var prompts []string
	for _, l := range strings.Split(errs, "\n") {
		if strings.Contains(l, `msg="chat prompt"`) {
			prompts = append(prompts, l)
		}
	}
	if len(prompts) < 8 {
		t.Fatalf("%d prompts logged: %s", len(prompts), errs)
	}
	for _, p := range prompts {
		if !strings.Contains(p, system) {
			t.Errorf("a prompt without the system prompt: %s", p)
		}
	}
	if last := prompts[len(prompts)-1]; strings.Contains(last, "number 0") || !strings.Contains(last, "number 7") {
		t.Errorf("the last prompt kept the first message or lost the last: %s", last)
	}
	if strings.Contains(prompts[0], "forgotten=0") && !strings.Contains(strings.Join(prompts, "\n"), "forgotten=2") {
		t.Errorf("no prompt forgot an exchange: %s", strings.Join(prompts, "\n"))
	}
}

// TestChatPeers: chat through the peers serving a split model answers
// as the model file does, given the split's directory.
func TestChatPeers(t *testing.T) {
	dir, swarm := swarmDir(t)
	var addrs []string
	for i := range 3 {
		addrs = append(addrs, startServe(t, dir, swarm, i, fmt.Sprint("peer", i)).addr)
	}
	args := []string{"--chat-template", "mistral-v3", "-n", "8", "--ignore-eos", "--temp", "0", "--backend", "cpu"}
	input := "Hello there\nWhat next?\n/clear\nAgain\n"
	local, _ := chatTranscript(t, input, append([]string{tinyModel}, args...)...)
	peers, errs := chatTranscript(t, input, append([]string{filepath.Join(dir, "split"), "--peers", strings.Join(addrs, ","), "--swarm", swarm}, args...)...)
	if peers != local || strings.Count(peers, "(cut off: -n 8)") != 3 {
		t.Errorf("through peers:\n%s\nlocally:\n%s", peers, local)
	}
	if !strings.Contains(errs, "peers on 3 peers") {
		t.Errorf("chat does not say it runs on the peers: %s", errs)
	}
	// The model file's peers must cover every layer: the fragments split
	// from it do, the first alone does not.
	failsWith(t, "nothing serves layer 1", "chat", tinyModel, "--peers", addrs[0], "--swarm", swarm)
}

// TestChatShiftMidAnswer: an answer that fills the context goes on once
// the oldest exchange is forgotten, and ends where -n says.
func TestChatShiftMidAnswer(t *testing.T) {
	out, errs := chatTranscript(t, "Please tell me about the number 0\nPlease tell me about the number 1\nPlease tell me about the number 2\n",
		"--verbose", tinyModel, "--chat-template", "mistral-v3", "-c", "96", "-n", "40", "--ignore-eos", "--temp", "0", "--backend", "cpu", "--system", "Count")
	if n := strings.Count(out, "(cut off: -n 40)"); n != 3 || strings.Contains(out, "(context full)") {
		t.Fatalf("%d of 3 answers went to -n 40:\n%s", n, out)
	}
	shifted := false
	for _, l := range strings.Split(errs, "\n") {
		if strings.Contains(l, `msg="chat prompt"`) && !strings.Contains(l, " answer=0 ") {
			shifted = true
			if !strings.Contains(l, `text="[INST] Count`) {
				t.Errorf("the shifted prompt lost the system prompt: %s", l)
			}
		}
	}
	if !shifted {
		t.Errorf("no answer was shifted: %s", errs)
	}
}

// TestSplitFragmentRefused: split of a fragment file is refused, naming
// the fragment and its layers, before anything is written; run of one
// says to run the split through peers.
func TestSplitFragmentRefused(t *testing.T) {
	dir, _ := swarmDir(t)
	frag := filepath.Join(dir, "split", "tiny-mistral-q4km.02-of-03.gguf")
	out := filepath.Join(dir, "again")
	failsWith(t, "tiny-mistral-q4km.02-of-03.gguf is fragment 1 (layers 1-2 of 4) of a split model, not a whole model: split the model it was cut from",
		"split", frag, "--parts", "2", "-o", out)
	if _, err := os.Stat(out); err == nil {
		t.Errorf("split of a fragment wrote %s", out)
	}
	failsWith(t, "is fragment 1 (layers 1-2 of 4) of a split model: run its manifest.json (the directory holding it) through --peers",
		"run", frag, "-p", "hi")
}

// TestLayerRangesInclusive: every range of layers a person reads is
// inclusive, FIRST-LAST, as split --layers takes them: split's table,
// serve's log, peers' table, run's per-peer timings and the errors.
func TestLayerRangesInclusive(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := strata(t, "split", tinyModel, "--layers", "0-0,1-2,3-3", "-o", filepath.Join(dir, "split"))
	if code != 0 || !strings.Contains(out, "fragment 0: layers 0-0,") || !strings.Contains(out, "fragment 1: layers 1-2,") || !strings.Contains(out, "fragment 2: layers 3-3,") {
		t.Fatalf("split: exit %d %q %s", code, out, errs)
	}
	failsWith(t, "layer ranges 0-1,3-3: each must start where the one before ends, from layer 0", "split", tinyModel, "--layers", "0-1,3-3", "-o", filepath.Join(dir, "x"))
	failsWith(t, "layer ranges 0-1 end at layer 1, the model's last is 3", "split", tinyModel, "--layers", "0-1", "-o", filepath.Join(dir, "x"))
	swarm := filepath.Join(dir, "swarm")
	strata(t, "swarm", "init", "-o", swarm)
	var addrs []string
	for i := range 3 {
		addrs = append(addrs, startServe(t, dir, swarm, i, fmt.Sprint("peer", i)).addr)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "peer1.log")); !strings.Contains(string(log), "layers=1-2 ") {
		t.Errorf("serve's log: %s", log)
	}
	out, _, _ = strata(t, "peers", "--peers", addrs[1], "--swarm", swarm)
	if !strings.Contains(out, "1-2 of 4") {
		t.Errorf("peers: %s", out)
	}
	_, errs, code = strata(t, "run", filepath.Join(dir, "split"), "--peers", strings.Join(addrs, ","), "--swarm", swarm, "-p", "hi", "-n", "2")
	if code != 0 || !strings.Contains(errs, "peer "+addrs[1]+" layers 1-2 ") {
		t.Errorf("run: exit %d %s", code, errs)
	}
	for _, s := range []string{out, errs} {
		if strings.Contains(s, "[1, 3)") || strings.Contains(s, "1-3") {
			t.Errorf("a half-open range: %s", s)
		}
	}
}

// TestNoRouteMessage: peers that leave a layer unserved are named with
// what they serve; no %!w(<nil>).
func TestNoRouteMessage(t *testing.T) {
	dir, swarm := swarmDir(t)
	first, last := startServe(t, dir, swarm, 0, "first"), startServe(t, dir, swarm, 2, "last")
	_, errs, _ := strata(t, "run", filepath.Join(dir, "split"), "--peers", first.addr+","+last.addr, "--swarm", swarm, "-p", "hi")
	if strings.Contains(errs, "%!") {
		t.Errorf("a formatting error: %s", errs)
	}
	failsWith(t, fmt.Sprintf("transport: no route covers every layer: nothing serves layer 1 (%s serves layers 0-0, %s serves layers 3-3)", first.addr, last.addr),
		"run", filepath.Join(dir, "split"), "--peers", first.addr+","+last.addr, "--swarm", swarm, "-p", "hi")
}

// TestServeHelpRequired: serve --help shows no default for --fragment,
// which a manifest requires, and says it does.
func TestServeHelpRequired(t *testing.T) {
	out, _, code := strata(t, "serve", "--help")
	found := false
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "--fragment") {
			found = true
			if strings.Contains(l, "default") || !strings.Contains(l, "(a manifest needs this, --layers or a swarm to join)") {
				t.Errorf("serve --help: %q", l)
			}
		}
	}
	if code != 0 || !found {
		t.Errorf("serve --help: exit %d %q", code, out)
	}
	failsWith(t, "serving a split model needs --fragment I", "serve", t.TempDir())
	dir, swarm := swarmDir(t)
	failsWith(t, "--fragment 3: the manifest has fragments 0 to 2", "serve", filepath.Join(dir, "split"), "--fragment", "3", "--swarm", swarm)
	failsWith(t, "--fragment x: the manifest has fragments 0 to 2", "serve", filepath.Join(dir, "split"), "--fragment", "x", "--swarm", swarm)
}

// TestSplitDirOrManifest: serve, run and chat take a split as the
// directory 'strata split -o DIR' wrote or as DIR/manifest.json, alike.
func TestSplitDirOrManifest(t *testing.T) {
	dir, swarm := swarmDir(t)
	manifest := filepath.Join(dir, "split", "manifest.json")
	addrs := []string{startServe(t, dir, swarm, 0, "p0").addr}
	// The middle one is served from its manifest's path.
	addrFile := filepath.Join(dir, "p1.addr")
	cmd := exec.Command(strataBin, "serve", manifest, "--fragment", "1", "--listen", "127.0.0.1:0", "--addr-file", addrFile, "--swarm", swarm, "--backend", "cpu", "-t", "1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 400 {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			addrs = append(addrs, strings.TrimSpace(string(b)))
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if len(addrs) != 2 {
		t.Fatal("serve of a manifest.json did not start")
	}
	addrs = append(addrs, startServe(t, dir, swarm, 2, "p2").addr)
	args := []string{"--peers", strings.Join(addrs, ","), "--swarm", swarm, "-p", "Once upon a time", "--temp", "0", "-n", "8", "--ignore-eos"}
	a, _ := runJSON(t, nil, append([]string{manifest}, args...)...)
	b, _ := runJSON(t, nil, append([]string{filepath.Join(dir, "split")}, args...)...)
	local, _ := runJSON(t, nil, tinyModel, "-p", "Once upon a time", "--temp", "0", "-n", "8", "--ignore-eos")
	if !slices.Equal(a.Tokens, local.Tokens) || !slices.Equal(b.Tokens, local.Tokens) {
		t.Errorf("manifest %v, directory %v, locally %v", a.Tokens, b.Tokens, local.Tokens)
	}
	failsWith(t, "--fragment serves a fragment of a split model; "+tinyModel+" is not one (a manifest.json or its directory): give --layers FIRST-LAST",
		"serve", tinyModel, "--fragment", "0", "--swarm", swarm)
}

// TestSwarmInitOutput: swarm init -o - writes the secret to stdout (no
// file named -), and one that peers accept; -o FILE says what it wrote.
func TestSwarmInitOutput(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(strataBin, "swarm", "init", "-o", "-")
	cmd.Dir = dir
	secret, err := cmd.Output()
	if err != nil || strings.Count(string(secret), "\n") != 1 || len(secret) < 32 {
		t.Fatalf("swarm init -o -: %v %q", err, secret)
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Errorf("swarm init -o - wrote a file named -")
	}
	file := filepath.Join(dir, "swarm")
	out, errs, code := strata(t, "swarm", "init", "-o", file)
	if code != 0 || out != "" || !strings.Contains(errs, "wrote a new swarm secret to "+file+" (mode 0600)") {
		t.Errorf("swarm init -o FILE: exit %d %q %q", code, out, errs)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the secret file: %v %v", st.Mode(), err)
	}
	failsWith(t, "swarm init: "+file+" exists: --force replaces it", "swarm", "init", "-o", file)
	// The secret from stdout is one the peers use.
	if err := os.WriteFile(file, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := strata(t, "split", tinyModel, "--parts", "1", "-o", filepath.Join(dir, "split")); code != 0 {
		t.Fatal(errs)
	}
	p := startServe(t, dir, file, 0, "p")
	if out, errs, code := strata(t, "peers", "--peers", p.addr, "--swarm", file); code != 0 || !strings.Contains(out, "0-3 of 4") {
		t.Errorf("peers with the secret from stdout: exit %d %q %q", code, out, errs)
	}
}

// TestWrongSwarmSecret: a node with another secret hears it once, in
// one line with one "transport:", for all the peers that refused it.
func TestWrongSwarmSecret(t *testing.T) {
	dir, swarm := swarmDir(t)
	var addrs []string
	for i := range 3 {
		addrs = append(addrs, startServe(t, dir, swarm, i, fmt.Sprint("peer", i)).addr)
	}
	other := filepath.Join(dir, "other")
	strata(t, "swarm", "init", "-o", other)
	_, errs, code := strata(t, "run", filepath.Join(dir, "split"), "--peers", strings.Join(addrs, ","), "--swarm", other, "-p", "hi")
	want := "strata: transport: " + strings.Join(addrs, ", ") + ": the peer refused this node: wrong swarm secret?"
	if lines := stderrLines(errs); code == 0 || len(lines) != 1 || lines[0] != want {
		t.Errorf("exit %d, stderr %q; want the one line %q", code, errs, want)
	}
	out, _, _ := strata(t, "peers", "--peers", addrs[0], "--swarm", other)
	if strings.Count(out, "the peer refused this node: wrong swarm secret?") != 1 || strings.Contains(out, "transport:") || strings.Contains(out, "Application error") {
		t.Errorf("peers: %q", out)
	}
}

// TestPlurals: "1 thread", "got 1 argument", "1 decode step", "there is
// 1 device".
func TestPlurals(t *testing.T) {
	one, _ := runJSON(t, nil, tinyModel, "-p", "hi", "-n", "2", "-t", "1", "--backend", "cpu")
	two, errs := runJSON(t, nil, tinyModel, "-p", "hi", "-n", "2", "-t", "2", "--backend", "cpu")
	if !strings.Contains(one.Device, "(1 thread,") || !strings.Contains(two.Device, "(2 threads,") {
		t.Errorf("devices %q and %q", one.Device, two.Device)
	}
	if !strings.Contains(errs, "generation: 2 tokens, 1 decode step in") {
		t.Errorf("timings: %s", errs)
	}
	failsWith(t, "tokenize takes MODEL and TEXT (or -m MODEL and TEXT), got 1 argument (see", "tokenize", tinyModel)
	failsWith(t, "tokenize takes MODEL and TEXT (or -m MODEL and TEXT), got 3 arguments (see", "tokenize", tinyModel, "a", "b")
	t.Run("devices", func(t *testing.T) {
		haveVulkan(t)
		out, _, _ := strata(t, "devices", "--json")
		var devs []json.RawMessage
		if err := json.Unmarshal([]byte(out), &devs); err != nil || len(devs) == 0 {
			t.Fatalf("devices --json: %v %q", err, out)
		}
		want := "there is 1 device (0)"
		if len(devs) > 1 {
			want = fmt.Sprintf("there are %d devices (0 to %d)", len(devs), len(devs)-1)
		}
		failsWith(t, fmt.Sprintf("--device %d: %s", len(devs)+3, want), "run", tinyModel, "-p", "hi", "--backend", "vulkan", "--device", fmt.Sprint(len(devs)+3))
	})
}

// TestBenchKernelsStreams: bench kernels prints its header and each row
// as soon as it is timed, not the whole table at the end.
func TestBenchKernelsStreams(t *testing.T) {
	haveVulkan(t)
	cmd := exec.Command(strataBin, "bench", "kernels", "--models", "mistral-7b", "-r", "1", "--no-cpu")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	timer := time.AfterFunc(5*time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(stdout)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), "matmul Q4_K") && strings.Contains(sc.Text(), "4096×4096 n=1 (attn_q)") {
			break
		}
	}
	// The first row is out while the others are still being timed.
	exited := make(chan struct{})
	go func() { io.Copy(io.Discard, stdout); close(exited) }()
	select {
	case <-exited:
		t.Fatalf("bench kernels printed its first row only at its end: %q", seen)
	case <-time.After(200 * time.Millisecond):
	}
	if len(seen) < 4 || !strings.Contains(strings.Join(seen, "\n"), "kernel |") {
		t.Errorf("no header before the first row: %q", seen)
	}
}
