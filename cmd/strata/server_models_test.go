package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	promodel "github.com/prometheus/common/model"

	"strata/engine"
	"strata/gguf"
)

// modelsResult is what testdata/openai/models.mjs prints.
type modelsResult struct {
	Models []struct {
		ID   string `json:"id"`
		Meta struct {
			Memory int64 `json:"memory"`
			Loaded bool  `json:"loaded"`
		} `json:"meta"`
	} `json:"models"`
	Steps    []modelsStep `json:"steps"`
	Together []modelsStep `json:"together"`
	Large    refusal      `json:"large"`
	Unknown  refusal      `json:"unknown"`
}

type modelsStep struct {
	Model   string    `json:"model"`
	Text    string    `json:"text"`
	Finish  string    `json:"finish"`
	Usage   usageJSON `json:"usage"`
	Metrics string    `json:"metrics"`
}

type refusal struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

// servedMemory is what serving a model file takes with slots sessions of
// context positions, as engine.Config.Memory counts it: the weights, each
// slot's KV cache, the activations of a default batch and, for several
// slots, the scratch of batching them.
func servedMemory(t *testing.T, path string, context, slots int) int64 {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	var weights int64
	for _, tensor := range f.Tensors {
		weights += int64(tensor.Size)
	}
	m := cfg.Memory(cfg.Layers, context, engine.DefaultBatch)
	n := weights + m.Activations + int64(slots)*m.KV
	if slots > 1 {
		n += m.Batching
	}
	return n
}

// TestServerModels: `strata server --models-dir` with two small models
// and a memory budget that holds one of them at a time, driven by the
// official openai client. /v1/models lists every model with its memory;
// A, then B (A unloaded), then A again (B unloaded) each give the
// greedy text of `strata run --temp 0` on that model, as do A and B
// requested at once; a model larger than the budget is refused naming
// both sizes, an unknown one naming it. Then the web chat's picker
// offers every model, and picking one serves the chat with it.
func TestServerModels(t *testing.T) {
	script := filepath.Join(filepath.Dir(openaiClient(t)), "models.mjs")
	t.Setenv("HF_HUB_CACHE", t.TempDir()) // the hub cache's models are listed too: none here
	dir := t.TempDir()
	tiny, err := filepath.Abs(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tiny, filepath.Join(dir, "tiny.gguf")); err != nil {
		t.Fatal(err)
	}
	small := buildModel(t, "small.gguf", smallSpec())
	b, _ := os.ReadFile(small)
	os.WriteFile(filepath.Join(dir, "small.gguf"), b, 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	wide := buildModel(t, "wide.gguf", wideSpec())
	b, _ = os.ReadFile(wide)
	os.WriteFile(filepath.Join(dir, "sub", "wide.gguf"), b, 0o644)

	const context, slots = 1024, 2
	need := map[string]int64{
		"tiny.gguf":     servedMemory(t, tiny, context, slots),
		"small.gguf":    servedMemory(t, small, context, slots),
		"sub/wide.gguf": servedMemory(t, wide, context, slots),
	}
	budget := need["tiny.gguf"] + need["small.gguf"] - 1 // either, never both
	if need["sub/wide.gguf"] <= budget {
		t.Fatalf("the wide model needs %d bytes, within the budget of %d", need["sub/wide.gguf"], budget)
	}
	s := startServer(t, "", "--models-dir", dir, "--models-memory", fmt.Sprint(budget), "-c", fmt.Sprint(context),
		"-np", fmt.Sprint(slots), "--metrics")
	cmd := exec.Command("node", script, s.url, "tiny.gguf", "small.gguf", "sub/wide.gguf")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the openai client failed: %v\n%s\nserver log:\n%s", err, stderr.String(), s.logText())
	}
	var got modelsResult
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output: %v: %s", err, out)
	}

	listed := map[string]int64{}
	for _, m := range got.Models {
		listed[m.ID] = m.Meta.Memory
	}
	if len(listed) != len(need) {
		t.Errorf("/v1/models lists %v, want %v", listed, need)
	}
	for id, n := range need {
		if listed[id] != n {
			t.Errorf("/v1/models gives %s %d bytes, want %d (weights, %d KV caches, activations, batching)", id, listed[id], n, slots)
		}
	}

	want := map[string]runResult{}
	for _, id := range []string{"tiny.gguf", "small.gguf"} {
		outs, errs, code := strata(t, "run", filepath.Join(dir, id), "-p", "Once upon a time", "--temp", "0", "-n", "16",
			"-c", fmt.Sprint(context), "--backend", "cpu", "-t", "1", "--json")
		var r runResult
		if code != 0 || json.Unmarshal([]byte(outs), &r) != nil {
			t.Fatalf("run %s: exit %d: %s", id, code, errs)
		}
		want[id] = r
	}
	if want["tiny.gguf"].Text == want["small.gguf"].Text {
		t.Fatalf("the two models give the same text %q: the test could not tell them apart", want["tiny.gguf"].Text)
	}
	check := func(what string, step modelsStep) {
		t.Helper()
		w := want[step.Model]
		if step.Text != w.Text || step.Finish != finishOf(w) || step.Usage.Completion != len(w.Tokens) {
			t.Errorf("%s: %s answered %q (%s, %d tokens); strata run --temp 0: %q (%s, %d tokens)", what, step.Model,
				step.Text, step.Finish, step.Usage.Completion, w.Text, finishOf(w), len(w.Tokens))
		}
	}
	// After each step one model is loaded; each load of the other
	// unloaded the one before.
	type counts struct{ loaded, loadsTiny, loadsSmall, unloadsTiny, unloadsSmall float64 }
	wantCounts := []counts{{1, 1, 0, 0, 0}, {1, 1, 1, 1, 0}, {1, 2, 1, 1, 1}}
	if len(got.Steps) != 3 {
		t.Fatalf("%d steps", len(got.Steps))
	}
	for i, step := range got.Steps {
		check(fmt.Sprintf("request %d", i+1), step)
		parser := expfmt.NewTextParser(promodel.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(step.Metrics))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v", err)
		}
		c := counts{value(fams, "strata_models_loaded", nil),
			value(fams, "strata_model_loads_total", map[string]string{"model": "tiny.gguf"}),
			value(fams, "strata_model_loads_total", map[string]string{"model": "small.gguf"}),
			value(fams, "strata_model_unloads_total", map[string]string{"model": "tiny.gguf"}),
			value(fams, "strata_model_unloads_total", map[string]string{"model": "small.gguf"})}
		if c != wantCounts[i] {
			t.Errorf("after request %d (%s): loaded, loads and unloads %+v, want %+v", i+1, step.Model, c, wantCounts[i])
		}
		if i == 0 {
			if f := fams["strata_model_load_seconds"]; f == nil || f.Metric[0].Histogram.GetSampleCount() != 1 {
				t.Errorf("strata_model_load_seconds counts no load")
			} else {
				t.Logf("loading the tiny model took %.1f ms", 1000*f.Metric[0].Histogram.GetSampleSum())
			}
		}
	}
	if len(got.Together) != 2 {
		t.Fatalf("%d answers to the requests sent together", len(got.Together))
	}
	for _, step := range got.Together {
		check("requested together", step)
	}
	log := s.logText()
	for _, line := range []string{`msg="model unloaded" model=tiny.gguf why="to make room for small.gguf"`,
		`msg="model unloaded" model=small.gguf why="to make room for tiny.gguf"`} {
		if !strings.Contains(log, line) {
			t.Errorf("the log lacks %s:\n%s", line, log)
		}
	}

	large := need["sub/wide.gguf"]
	if got.Large.Status != 400 || got.Large.Code != "model_too_large" || !strings.Contains(got.Large.Message, "sub/wide.gguf") ||
		!strings.Contains(got.Large.Message, fmt.Sprintf("needs %s (%d bytes", engine.Bytes(large), large)) ||
		!strings.Contains(got.Large.Message, fmt.Sprintf("budget of %s (%d bytes", engine.Bytes(budget), budget)) {
		t.Errorf("a model larger than the budget: %+v; want 400 model_too_large naming %d and %d bytes", got.Large, large, budget)
	}
	if got.Unknown.Status != 400 || !strings.Contains(got.Unknown.Message, `"no-such-model.gguf"`) || !strings.Contains(got.Unknown.Message, "tiny.gguf") {
		t.Errorf("an unknown model: %+v, want 400 naming it and the models served", got.Unknown)
	}
	pickModel(t, s, []string{"tiny.gguf", "small.gguf", "sub/wide.gguf"}, "small.gguf")
}
