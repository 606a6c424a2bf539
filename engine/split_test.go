package engine_test

import (
	"path/filepath"
	"slices"
	"testing"

	"strata/engine"
	"strata/gguf"
)

// TestSplitFragmentsCompose checks that the fragments of a split model,
// run one after the other on hidden states, give the logits of the whole
// model, bit for bit.
func TestSplitFragmentsCompose(t *testing.T) {
	dir := t.TempDir()
	m, err := engine.Split(filepath.Join(tinyDir, "tiny-mistral-q4km.gguf"), [][2]int{{0, 1}, {1, 3}, {3, 4}}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m2, err := engine.ReadManifest(filepath.Join(dir, "manifest.json")); err != nil || len(m2.Fragments) != 3 {
		t.Fatalf("manifest: %v %v", m2, err)
	}
	tokens := []int32{1, 9038, 2501, 263, 931}
	whole, err := engine.NewFragment(openTiny(t), cpuBackend(t), engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := whole.NewSession(16)
	want := make([]float32, len(tokens)*whole.Config.Vocab)
	if err := whole.Forward(want, ws, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
		t.Fatal(err)
	}
	var hidden []float32
	for i, f := range m.Fragments {
		file, err := gguf.Open(filepath.Join(dir, f.File))
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		frag, err := engine.NewFragment(file, cpuBackend(t), engine.FragmentOptions{})
		if err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		if frag.Start != f.Start || frag.End != f.End {
			t.Fatalf("fragment %d holds [%d, %d), manifest says [%d, %d)", i, frag.Start, frag.End, f.Start, f.End)
		}
		s, _ := frag.NewSession(16)
		in := engine.Batch{Hidden: hidden, AllLogits: true}
		if i == 0 {
			in = engine.Batch{Tokens: tokens, AllLogits: true}
		}
		out := make([]float32, frag.OutputSize(len(tokens), true))
		if err := frag.Forward(out, s, in); err != nil {
			t.Fatal(err)
		}
		hidden = out
	}
	if !slices.Equal(hidden, want) {
		t.Fatal("the fragments' logits differ from the whole model's")
	}
}

// TestWeightBytes checks WeightBytes against what fragments load, and
// the total their progress counts to.
func TestWeightBytes(t *testing.T) {
	f := openTiny(t)
	b := cpuBackend(t)
	layers := 4
	for _, r := range [][2]int{{0, 1}, {1, 3}, {3, 4}, {0, 4}} {
		var total int64
		frag, err := engine.NewFragment(f, b, engine.FragmentOptions{Start: r[0], End: r[1], Batch: 1,
			Progress: func(done, all int64) { total = all }})
		if err != nil {
			t.Fatal(err)
		}
		want := engine.WeightBytes(f, r[0], r[1], r[0] == 0, r[1] == layers)
		if frag.WeightBytes() != want || total != want {
			t.Errorf("layers %d-%d: WeightBytes %d, the fragment loads %d, its progress counts to %d", r[0], r[1]-1, want, frag.WeightBytes(), total)
		}
	}
}

// TestBalancedRangesTiny: the tiny model's head reads more bytes than its
// four layers together, so a balanced cut gives the last fragment one
// layer whatever the number of parts.
func TestBalancedRangesTiny(t *testing.T) {
	f := openTiny(t)
	for parts, want := range map[int][][2]int{
		1: {{0, 4}},
		2: {{0, 3}, {3, 4}},
		3: {{0, 2}, {2, 3}, {3, 4}},
		4: {{0, 1}, {1, 2}, {2, 3}, {3, 4}},
	} {
		got, err := engine.BalancedRanges(f, parts)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%d parts: %v %v, want %v", parts, got, err, want)
		}
	}
	if _, err := engine.BalancedRanges(f, 5); err == nil {
		t.Error("5 parts of 4 layers: no error")
	}
}
