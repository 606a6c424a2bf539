package main

// The CLI as llama.cpp users expect it, and the messages a new user
// meets, each through the real binary (issue 11).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
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
	failsWith(t, "--peers needs a split model", "chat", tinyModel, "--peers", addrs[0], "--swarm", swarm)
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
