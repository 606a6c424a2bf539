//go:build cgo

package gpu_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"strata/engine"
	"strata/engine/testmodel"
	"strata/gguf"
	"strata/gpu"
)

// profiles are the device profiles every test of TestProfiles runs
// under: the device's own paths, then a discrete GPU's with subgroups of
// 32 and 64, each with subgroup shuffles and with their shared-memory
// fallback. ("gpu" alone plans as subgroup=32 on lavapipe, whose
// subgroups are 8 wide.)
var profiles = []string{"", "subgroup=32", "subgroup=64", "subgroup=32,subgroup-ops=off", "subgroup=64,subgroup-ops=off"}

// TestMatMulSmallRows runs matrix products under every profile: rows of
// 64 and 128 values share 2 and 4 threads on a GPU, fewer than the 8
// inputs of a pass, rows of 2048 values take 32 or 64 threads (tree
// steps in shared memory and in shuffles), and every output must be
// written and agree with the CPU backend's.
func TestMatMulSmallRows(t *testing.T) {
	for _, profile := range profiles {
		t.Run(fmt.Sprintf("profile=%q", profile), func(t *testing.T) {
			p := newPairProfile(t, profile)
			for _, c := range []struct {
				types         []gguf.TensorType
				rows, cols, n int
			}{
				{[]gguf.TensorType{gguf.Q4_0, gguf.Q8_0, gguf.F32}, 70, 64, 11},
				{[]gguf.TensorType{gguf.Q4_0, gguf.IQ4_NL, gguf.F16}, 70, 128, 9},
				{[]gguf.TensorType{gguf.Q8_0}, 33, 32, 8},
				{[]gguf.TensorType{gguf.Q4_K, gguf.Q6_K}, 37, 256, 13},
				{[]gguf.TensorType{gguf.Q4_K, gguf.Q6_K}, 40, 2048, 3},
			} {
				for _, typ := range c.types {
					wa, wb := p.weights(typ, c.rows, c.cols)
					xa, xb, _ := p.tensors(c.n, c.cols)
					oa, ob, _ := p.tensors(c.n, c.rows)
					p.ref.MatMul(oa, wa, xa, c.n)
					p.gpu.MatMul(ob, wb, xb, c.n)
					p.compare(fmt.Sprintf("matmul %v %dx%d n=%d", typ, c.rows, c.cols, c.n), oa, ob, c.n, 5e-6)
				}
			}
		})
	}
}

// TestProfiles runs the engine's exactness checks under every profile:
// the tiny model's rows within NMSE 1e-9 of the exact pass, its greedy
// continuations (each teacher-forced row's argmax is the next greedy
// token: with batch invariance, tested below, that is greedy decoding),
// the second shape and every type against the float64 pass. A profile
// and its shared-memory fallback must give the same bits.
func TestProfiles(t *testing.T) {
	ref, exact := loadReference(t)
	file := openTiny(t)
	logits := map[string][]float32{}
	for _, profile := range profiles {
		t.Run(fmt.Sprintf("profile=%q", profile), func(t *testing.T) {
			g := openGPUProfile(t, profile)
			frag, err := engine.NewFragment(file, g, engine.FragmentOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var all []float32
			full := 0
			for ci, c := range ref.Cases {
				tokens := append(slices.Clone(c.PromptTokens), c.GreedyTokens[:len(c.GreedyTokens)-1]...)
				s, err := frag.NewSession(len(tokens))
				if err != nil {
					t.Fatal(err)
				}
				out := make([]float32, len(tokens)*ref.NVocab)
				if err := frag.Forward(out, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
					t.Fatal(err)
				}
				s.Close()
				all = append(all, out...)
				row := func(r int) []float32 { return out[r*ref.NVocab : (r+1)*ref.NVocab] }
				for i, want := range c.GreedyTokens {
					if got := argmax(row(len(c.PromptTokens) - 1 + i)); got != int(want) {
						t.Errorf("case %d greedy token %d: %d, want %d", ci, i, got, want)
						break
					}
				}
				for _, r := range c.FullRows {
					e := nmse(row(r), exact[full*ref.NVocab:(full+1)*ref.NVocab])
					if !(e <= 1e-9) {
						t.Errorf("case %d row %d: NMSE %.3g > 1e-9", ci, r, e)
					}
					full++
				}
			}
			logits[profile] = all
			tokens := []int32{1, 999, 0, 500, 17, 17, 17, 256, 3, 800, 42, 7}
			worst, err := testmodel.WorstAgainstExact(g, testmodel.SecondShape, tokens, 5)
			if err != nil {
				t.Fatal(err)
			}
			if !(worst <= 1e-9) {
				t.Errorf("second shape: worst row NMSE %.3g > 1e-9", worst)
			}
			for _, typ := range []gguf.TensorType{gguf.Q4_K, gguf.Q6_K, gguf.Q8_0, gguf.IQ4_XS, gguf.BF16} {
				worst, err := testmodel.WorstAgainstExact(g, testmodel.OneType(typ), []int32{1, 299, 0, 150, 17, 17, 42}, 4)
				if err != nil {
					t.Fatal(err)
				}
				if !(worst <= 1e-9) {
					t.Errorf("%v model: worst row NMSE %.3g > 1e-9", typ, worst)
				}
			}
			t.Logf("tiny rows, greedy, second shape (worst NMSE %.3g) and 5 types checked", worst)
		})
	}
	for _, sg := range []string{"32", "64"} {
		on, off := logits["subgroup="+sg], logits["subgroup="+sg+",subgroup-ops=off"]
		if on != nil && off != nil && !slices.Equal(on, off) {
			t.Errorf("subgroup=%s: the shared-memory fallback's logits differ from the shuffles'", sg)
		}
	}
}

// TestProfileRefused checks that a profile that does not parse is
// refused, in one line naming what is wrong, by Validate and by New.
func TestProfileRefused(t *testing.T) {
	for _, c := range []struct{ profile, want string }{
		{"subgroup=48", `gpu: profile "subgroup=48": subgroup=48: the size must be 32 or 64`},
		{"gpu,subgroup-ops=maybe", `gpu: profile "gpu,subgroup-ops=maybe": subgroup-ops=maybe: want on or off`},
		{"fp16=on", `gpu: profile "fp16=on": unknown item "fp16=on" (want gpu, subgroup=32|64 or FEATURE=on|off, FEATURE one of subgroup-ops)`},
		{"gpu,", `gpu: profile "gpu,": unknown item "" (want gpu, subgroup=32|64 or FEATURE=on|off, FEATURE one of subgroup-ops)`},
	} {
		err := gpu.Options{Profile: c.profile}.Validate()
		if err == nil || err.Error() != c.want {
			t.Errorf("Validate(%q): %v, want %q", c.profile, err, c.want)
		}
		if _, err := gpu.New(gpu.Options{Device: -1, PipelineCache: "-", Profile: c.profile}); err == nil || err.Error() != c.want {
			t.Errorf("New(%q): %v, want %q", c.profile, err, c.want)
		}
	}
	for _, ok := range []string{"", "gpu", "subgroup=32", " subgroup=64 , subgroup-ops=off", "subgroup-ops=on"} {
		if err := (gpu.Options{Profile: ok}).Validate(); err != nil {
			t.Errorf("Validate(%q): %v", ok, err)
		}
	}
}

// TestMaskedFeature checks that with subgroup shuffles masked the
// backend runs (TestProfiles checks its results) and says which fallback
// it took, in Fallbacks and in the log line of its profile.
func TestMaskedFeature(t *testing.T) {
	var logged bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	defer slog.SetDefault(prev)
	type fallbacks interface{ Fallbacks() []string }
	const want = "subgroup-ops masked by the profile: matrix products reduce in shared memory"
	g := openGPUProfile(t, "subgroup=64,subgroup-ops=off")
	if got := g.(fallbacks).Fallbacks(); !slices.Equal(got, []string{want}) {
		t.Errorf("fallbacks %q, want %q", got, want)
	}
	if !strings.Contains(logged.String(), want) {
		t.Errorf("the log does not name the fallback:\n%s", logged.String())
	}
	p := newPairProfile(t, "subgroup=64,subgroup-ops=off")
	wa, wb := p.weights(gguf.Q4_0, 70, 128)
	xa, xb, _ := p.tensors(9, 128)
	oa, ob, _ := p.tensors(9, 70)
	p.ref.MatMul(oa, wa, xa, 9)
	p.gpu.MatMul(ob, wb, xb, 9)
	p.compare("masked matmul", oa, ob, 9, 5e-6)
	// lavapipe has subgroup shuffles: forcing them on works and falls back on nothing.
	if got := openGPUProfile(t, "subgroup=32,subgroup-ops=on").(fallbacks).Fallbacks(); len(got) != 0 {
		t.Errorf("subgroup-ops=on: fallbacks %q", got)
	}
}
