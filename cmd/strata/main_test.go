package main

import (
	"bytes"
	"debug/buildinfo"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"strata/engine/testmodel"
	"strata/gguf"
)

var strataBin string

// stampedCommit is the commit the binary was built from, when the build
// could stamp it (a git checkout with git installed); "" otherwise.
var stampedCommit string

func TestMain(m *testing.M) {
	if os.Getenv(peakRSSFile) != "" {
		os.Exit(peakRSSLauncher())
	}
	dir, err := os.MkdirTemp("", "strata-test")
	if err != nil {
		panic(err)
	}
	strataBin = filepath.Join(dir, "strata")
	// With the commit where the go command can tell it (a git clone;
	// GOFLAGS may say -buildvcs=false), else without.
	if _, err := exec.Command("go", "build", "-buildvcs=true", "-o", strataBin, ".").CombinedOutput(); err == nil {
		if bi, err := buildinfo.ReadFile(strataBin); err == nil {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					stampedCommit = s.Value
				}
			}
		}
	} else if out, err := exec.Command("go", "build", "-o", strataBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var tinyDir = filepath.Join("..", "..", "testdata", "tiny-mistral")
var tinyModel = filepath.Join(tinyDir, "tiny-mistral-q4km.gguf")

// strata runs the binary and returns stdout, stderr and the exit code.
func strata(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return strataEnv(t, nil, args...)
}

// strataEnv runs the binary with env added to the environment.
func strataEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(strataBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func loadReference(t *testing.T) (cases []testmodel.ReferenceCase, vocab int) {
	r, err := testmodel.LoadReference(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	return r.Cases, r.NVocab
}

func readFloats(t *testing.T, path string) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TestReference runs the acceptance checks through the CLI:
// tokenize, greedy run and teacher-forced logits for every prompt.
func TestReference(t *testing.T) {
	cases, vocab := loadReference(t)
	exact := readFloats(t, filepath.Join(tinyDir, "exact_rows.f32"))
	full := 0
	for ci, c := range cases {
		out, errs, code := strata(t, "tokenize", tinyModel, "--json", c.Prompt)
		var ids []int32
		if code != 0 || json.Unmarshal([]byte(out), &ids) != nil || !slices.Equal(ids, c.PromptTokens) {
			t.Errorf("case %d tokenize: %q %q exit %d, want %v", ci, out, errs, code, c.PromptTokens)
		}

		out, errs, code = strata(t, "run", tinyModel, "-p", c.Prompt, "--temp", "0", "--ignore-eos", "-n", "32", "--json")
		var r struct {
			PromptTokens []int32 `json:"prompt_tokens"`
			Tokens       []int32 `json:"tokens"`
			Backend      string  `json:"backend"`
			Device       string  `json:"device"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("case %d run: exit %d, %q %q", ci, code, out, errs)
		}
		if !slices.Equal(r.Tokens, c.GreedyTokens) || !slices.Equal(r.PromptTokens, c.PromptTokens) {
			t.Errorf("case %d run: tokens %v, want %v", ci, r.Tokens, c.GreedyTokens)
		}
		if r.Backend != "cpu" || r.Device == "" {
			t.Errorf("case %d run: backend %q device %q", ci, r.Backend, r.Device)
		}

		tokens := append(slices.Clone(c.PromptTokens), c.GreedyTokens[:len(c.GreedyTokens)-1]...)
		list := make([]string, len(tokens))
		for i, id := range tokens {
			list[i] = strconv.Itoa(int(id))
		}
		file := filepath.Join(t.TempDir(), "logits.f32")
		if _, errs, code := strata(t, "logits", tinyModel, "--tokens", strings.Join(list, ","), "-o", file); code != 0 {
			t.Fatalf("case %d logits: exit %d: %s", ci, code, errs)
		}
		logits := readFloats(t, file)
		if len(logits) != len(tokens)*vocab {
			t.Fatalf("case %d logits: %d values, want %d", ci, len(logits), len(tokens)*vocab)
		}
		for row, gap := range c.Top2Gap {
			best := testmodel.Argmax(logits[row*vocab : (row+1)*vocab])
			if gap > 1e-3 && best != int(c.Top10[row][0][0]) {
				t.Errorf("case %d row %d: argmax %d, exact %v", ci, row, best, c.Top10[row][0][0])
			}
		}
		for _, row := range c.FullRows {
			e := testmodel.NMSE(logits[row*vocab:(row+1)*vocab], exact[full*vocab:(full+1)*vocab])
			if !(e <= 1e-9) {
				t.Errorf("case %d row %d: NMSE %.3g > 1e-9", ci, row, e)
			}
			full++
		}
	}
}

// TestLogitsBits checks that the logits are the same bits for every CPU
// kernel variant, thread count and batch size.
func TestLogitsBits(t *testing.T) {
	cases, _ := loadReference(t)
	c := cases[0]
	tokens := append(slices.Clone(c.PromptTokens), c.GreedyTokens...)
	list := make([]string, len(tokens))
	for i, id := range tokens {
		list[i] = strconv.Itoa(int(id))
	}
	run := func(env []string, args ...string) []byte {
		file := filepath.Join(t.TempDir(), "logits.f32")
		args = append([]string{"logits", tinyModel, "--backend", "cpu", "--tokens", strings.Join(list, ","), "-o", file}, args...)
		if _, errs, code := strataEnv(t, env, args...); code != 0 {
			t.Fatalf("%v %v: exit %d: %s", env, args, code, errs)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := run([]string{"STRATA_CPU=generic"}, "-t", "1", "-b", "1")
	for _, v := range []struct {
		env  []string
		args []string
	}{
		{[]string{"STRATA_CPU=generic"}, []string{"-t", "2"}},
		{nil, []string{"-t", "1"}},
		{nil, []string{"-t", "2", "-b", "7"}},
		{nil, []string{"-t", "3"}},
		{[]string{"STRATA_CPU=avx2"}, []string{"-t", "2", "-b", "5"}},
		{[]string{"STRATA_CPU=avx512"}, nil},
	} {
		out, errs, _ := strataEnv(t, v.env, "run", tinyModel, "--backend", "cpu", "-p", "x", "-n", "1", "--json")
		if strings.Contains(errs, "processor or build runs only") || (len(v.env) > 0 && !strings.Contains(out, strings.TrimPrefix(v.env[0], "STRATA_CPU="))) {
			t.Logf("%v: not on this processor", v.env)
			continue
		}
		if got := run(v.env, v.args...); !bytes.Equal(got, want) {
			t.Errorf("%v %v: logits differ from generic -t 1 -b 1", v.env, v.args)
		}
	}
}

// TestHugeTokenCount checks that -n far past the context stops at the
// context instead of reserving memory for every token asked for.
func TestHugeTokenCount(t *testing.T) {
	out, errs, code := strata(t, "run", tinyModel, "-p", "hi", "-c", "16", "-n", "9000000000000000000", "--ignore-eos", "--json")
	var r struct {
		Tokens []int32 `json:"tokens"`
		Stop   string  `json:"stop"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("exit %d: %q %s", code, out, errs)
	}
	if r.Stop != "context" || len(r.Tokens) == 0 || len(r.Tokens) > 16 {
		t.Errorf("stop %q after %d tokens, want the context's 16 at most", r.Stop, len(r.Tokens))
	}
	_, errs, code = strataEnv(t, []string{"STRATA_CPU=sse9"}, "run", tinyModel, "-p", "hi", "--backend", "cpu")
	if code == 0 || !strings.Contains(errs, `STRATA_CPU: cpu: kernels "sse9"`) {
		t.Errorf("STRATA_CPU=sse9: exit %d, %q", code, errs)
	}
}

// TestTimings checks that the decode rate counts the steps it timed: the
// first token comes from the prompt's logits.
func TestTimings(t *testing.T) {
	out, errs, code := strata(t, "run", tinyModel, "-p", "Once upon a time", "-n", "9", "--ignore-eos", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Tokens  []int32 `json:"tokens"`
		Timings struct {
			Tokens    int     `json:"predicted_tokens"`
			Steps     int     `json:"decode_steps"`
			MS        float64 `json:"predicted_ms"`
			PerSecond float64 `json:"predicted_tokens_per_second"`
		} `json:"timings"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	tm := r.Timings
	if len(r.Tokens) != 9 || tm.Tokens != 9 || tm.Steps != 8 {
		t.Fatalf("%d tokens, timings %+v: want 9 tokens and 8 decode steps", len(r.Tokens), tm)
	}
	if want := 8 / (tm.MS / 1000); math.Abs(tm.PerSecond-want) > 0.01*want {
		t.Errorf("%.1f tokens/s, want 8 steps in %.3f ms = %.1f", tm.PerSecond, tm.MS, want)
	}
}

// TestBenchModel runs 'strata bench model' and checks its table and JSON.
func TestBenchModel(t *testing.T) {
	out, errs, code := strata(t, "bench", "model", tinyModel, "-p", "16,8", "-n", "4", "-r", "2", "-t", "2", "--backend", "cpu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"| model | size | params | backend | threads | test | t/s |", "| pp16 |", "| pp8 |", "| tg4 |", "20.06 M", "| cpu | 2 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	out, errs, code = strata(t, "bench", "model", tinyModel, "-p", "0", "-n", "3", "-r", "3", "--backend", "cpu", "--json")
	var rows []struct {
		Test    string    `json:"test"`
		Mean    float64   `json:"avg_ts"`
		Samples []float64 `json:"samples_ts"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("--json: exit %d, %q %s", code, out, errs)
	}
	if len(rows) != 1 || rows[0].Test != "tg3" || len(rows[0].Samples) != 3 || !(rows[0].Mean > 0) {
		t.Errorf("--json rows %+v", rows)
	}
	if _, errs, code := strata(t, "bench", "model", tinyModel, "-p", "x"); code == 0 || !strings.Contains(errs, "--n-prompt") {
		t.Errorf("-p x: exit %d, %q", code, errs)
	}
}

// ggufHeader starts a GGUF v3 file by hand, for inputs the writer refuses.
func ggufHeader(nTensors, nKV uint64) []byte {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, nTensors)
	return binary.LittleEndian.AppendUint64(b, nKV)
}

func appendString(b []byte, s string) []byte {
	return append(binary.LittleEndian.AppendUint64(b, uint64(len(s))), s...)
}

func writeFile(t *testing.T, name string, data []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadInput(t *testing.T) {
	tiny, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	// A tensor of type 99, which ggml has never had.
	unknown := appendString(ggufHeader(1, 0), "x")
	unknown = binary.LittleEndian.AppendUint32(unknown, 1)
	unknown = binary.LittleEndian.AppendUint64(unknown, 32)
	unknown = binary.LittleEndian.AppendUint32(unknown, 99)
	unknown = binary.LittleEndian.AppendUint64(unknown, 0)

	spec := testmodel.Spec{Layers: 1, Embedding: 256, FeedForward: 256, Heads: 2, KVHeads: 1, HeadDim: 128,
		Vocab: 300, Context: 64, RopeBase: 10000, NormEps: 1e-5, Types: map[string]gguf.TensorType{"ffn_up": gguf.IQ2_XS}}
	iq2, err := testmodel.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	w := &gguf.Writer{}
	w.Set("general.architecture", "gpt2")
	var gpt2 bytes.Buffer
	w.WriteTo(&gpt2)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"not gguf", []string{"run", writeFile(t, "x.gguf", []byte("hello, this is text")), "-p", "hi"}, "not a GGUF file"},
		{"truncated", []string{"run", writeFile(t, "t.gguf", tiny[:len(tiny)/2]), "-p", "hi"}, "truncated"},
		{"truncated header", []string{"inspect", writeFile(t, "h.gguf", tiny[:5000])}, "truncated"},
		{"unknown tensor type", []string{"run", writeFile(t, "u.gguf", unknown), "-p", "hi"}, "unknown tensor type 99"},
		{"unsupported tensor type", []string{"run", writeFile(t, "iq.gguf", iq2), "-p", "hi"}, "IQ2_XS: unsupported tensor type"},
		{"unsupported architecture", []string{"run", writeFile(t, "g.gguf", gpt2.Bytes()), "-p", "hi"}, `unsupported architecture "gpt2" (supported: llama)`},
		{"prompt too long", []string{"run", tinyModel, "-c", "8", "-p", strings.Repeat("once upon a time ", 10)}, "more than the context of 8"},
		{"token outside vocabulary", []string{"logits", tinyModel, "--tokens", "1,32000", "-o", filepath.Join(t.TempDir(), "o")}, "token 32000 is outside the vocabulary"},
		{"missing model", []string{"run", "/nonexistent.gguf", "-p", "hi"}, "no such file"},
		{"bad flag", []string{"run", tinyModel, "--frobnicate"}, "flag provided but not defined"},
		{"bad backend", []string{"run", tinyModel, "-p", "hi", "--backend", "tpu"}, `--backend "tpu"`},
		{"no prompt", []string{"run", tinyModel}, "no prompt"},
		{"absurd threads", []string{"run", tinyModel, "-p", "hi", "-t", "100000"}, "-t 100000: at most"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := strata(t, c.args...)
			if code == 0 {
				t.Fatalf("exit 0; stdout %q", out)
			}
			var lines []string // the error, without log lines (level=...)
			for _, l := range strings.Split(strings.TrimRight(errs, "\n"), "\n") {
				if !strings.HasPrefix(l, "level=") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "strata: ") || !strings.Contains(lines[0], c.want) {
				t.Fatalf("stderr %q, want one line with %q", errs, c.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"run", "inspect", "tokenize", "logits", "chat"} {
		out, _, code := strata(t, cmd, "--help")
		if code != 0 || !strings.Contains(out, "strata "+cmd) {
			t.Errorf("%s --help: exit %d: %q", cmd, code, out)
		}
	}
}

func TestInspect(t *testing.T) {
	out, errs, code := strata(t, "inspect", "--json", tinyModel)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Config struct {
			Layers, Heads, KVHeads, Vocab int
		} `json:"config"`
		Tensors []struct{ Name, Type string } `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Config.Layers != 4 || r.Config.Heads != 4 || r.Config.KVHeads != 1 || r.Config.Vocab != 32000 || len(r.Tensors) != 39 {
		t.Errorf("inspect: %+v, %d tensors", r.Config, len(r.Tensors))
	}
}

// TestSeed checks that sampling with a seed repeats itself.
func TestSeed(t *testing.T) {
	args := []string{"run", tinyModel, "-p", "The capital of France is", "-n", "24", "-s", "7", "--json"}
	a, _, _ := strata(t, args...)
	b, _, _ := strata(t, args...)
	var ra, rb struct{ Tokens []int32 }
	json.Unmarshal([]byte(a), &ra)
	json.Unmarshal([]byte(b), &rb)
	if len(ra.Tokens) != 24 || !slices.Equal(ra.Tokens, rb.Tokens) {
		t.Errorf("seed 7 gave %v then %v", ra.Tokens, rb.Tokens)
	}
}
