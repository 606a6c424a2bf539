//go:build cgo

package gpu_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"strata/engine"
	"strata/engine/testmodel"
	"strata/gguf"
	"strata/gpu"
	"strata/shaders"
)

var tinyDir = filepath.Join("..", "testdata", "tiny-mistral")

// openGPU returns a Vulkan backend under the profile STRATA_VK_PROFILE
// names (so that the whole suite can run under one), skipping when this
// machine has no Vulkan device; under CI=true a missing device fails instead.
func openGPU(t testing.TB) engine.Backend {
	t.Helper()
	return openGPUProfile(t, os.Getenv(gpu.ProfileEnv))
}

// openGPUProfile returns a Vulkan backend under a profile.
func openGPUProfile(t testing.TB, profile string) engine.Backend {
	t.Helper()
	b, err := gpu.New(gpu.Options{Device: -1, PipelineCache: filepath.Join(t.TempDir(), "pipelines.bin"), Profile: profile})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs a Vulkan device: %v", err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func loadReference(t testing.TB) (*testmodel.Reference, []float32) {
	r, err := testmodel.LoadReference(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := testmodel.ReadRows(filepath.Join(tinyDir, "exact_rows.f32"), r.NVocab)
	if err != nil {
		t.Fatal(err)
	}
	return r, slices.Concat(rows...)
}

var (
	nmse   = testmodel.NMSE
	argmax = testmodel.Argmax
)

func openTiny(t testing.TB) *gguf.File {
	f, err := gguf.Open(filepath.Join(tinyDir, "tiny-mistral-q4km.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestTinyModel runs the engine's model checks on the Vulkan backend:
// teacher-forced logits against the exact pass, and greedy generation.
func TestTinyModel(t *testing.T) {
	ref, exact := loadReference(t)
	frag, err := engine.NewFragment(openTiny(t), openGPU(t), engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	full := 0
	for ci, c := range ref.Cases {
		tokens := append(slices.Clone(c.PromptTokens), c.GreedyTokens[:len(c.GreedyTokens)-1]...)
		s, err := frag.NewSession(len(tokens))
		if err != nil {
			t.Fatal(err)
		}
		logits := make([]float32, len(tokens)*ref.NVocab)
		if err := frag.Forward(logits, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		row := func(r int) []float32 { return logits[r*ref.NVocab : (r+1)*ref.NVocab] }
		for r, gap := range c.Top2Gap {
			if want := int(c.Top10[r][0][0]); gap > 1e-3 && argmax(row(r)) != want {
				t.Errorf("case %d row %d: argmax %d, exact %d", ci, r, argmax(row(r)), want)
			}
		}
		for _, r := range c.FullRows {
			e := nmse(row(r), exact[full*ref.NVocab:(full+1)*ref.NVocab])
			t.Logf("case %d row %2d: NMSE %.3g", ci, r, e)
			if !(e <= 1e-5) {
				t.Errorf("case %d row %d: NMSE %.3g > 1e-5", ci, r, e)
			}
			full++
		}

		s, _ = frag.NewSession(256)
		res, err := engine.Generate(t.Context(), s, c.PromptTokens,
			engine.GenerateOptions{MaxTokens: len(c.GreedyTokens), IgnoreEOS: true}, func(int32) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if !slices.Equal(res.Tokens, c.GreedyTokens) {
			t.Errorf("case %d greedy: got %v\nwant %v", ci, res.Tokens, c.GreedyTokens)
		}
	}
}

// TestEveryTypeAgainstExact runs a model of each type the shaders read,
// every matrix of that type, on Vulkan against the float64 reference.
func TestEveryTypeAgainstExact(t *testing.T) {
	g := openGPU(t)
	tokens := []int32{1, 299, 0, 150, 17, 17, 42, 7, 256, 3}
	for _, typ := range shaders.Types {
		t.Run(typ.String(), func(t *testing.T) {
			worst, err := testmodel.WorstAgainstExact(g, testmodel.OneType(typ), tokens, 4)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v: worst row NMSE %.3g over %d rows", typ, worst, len(tokens))
			if !(worst <= 1e-9) {
				t.Errorf("%v: worst row NMSE %.3g > 1e-9", typ, worst)
			}
		})
	}
}

// TestSecondShapeAgainstExact runs a model unlike the tiny one in every
// dimension (see testmodel.SecondShape) on Vulkan, against the float64
// reference.
func TestSecondShapeAgainstExact(t *testing.T) {
	tokens := []int32{1, 999, 0, 500, 17, 17, 17, 256, 3, 800, 42, 7, 7, 650, 12, 999, 100, 1, 2, 3}
	worst, err := testmodel.WorstAgainstExact(openGPU(t), testmodel.SecondShape, tokens, 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("worst row NMSE %.3g", worst)
	if !(worst <= 1e-9) {
		t.Errorf("worst row NMSE %.3g > 1e-9", worst)
	}
}
