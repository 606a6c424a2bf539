package swarm

import (
	"path/filepath"
	"strings"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
)

var tinyPath = filepath.Join("..", "testdata", "tiny-mistral", "tiny-mistral-q4km.gguf")

func openTiny(t testing.TB) *gguf.File {
	t.Helper()
	f, err := gguf.Open(tinyPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestModelOf checks the shape read from the tiny model against what
// fragments of it load and engine's memory accounting.
func TestModelOf(t *testing.T) {
	f := openTiny(t)
	m, err := ModelOf(f, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := engine.ConfigFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Layers != c.Layers || m.Layers < 2 {
		t.Fatalf("%d layers, the model has %d", m.Layers, c.Layers)
	}
	mem := c.Memory(c.Layers, engine.ContextForMemory, engine.DefaultBatch)
	if m.KVBytesPerLayer*int64(m.Layers) != mem.KV || m.ActivationBytes != mem.Activations {
		t.Errorf("KV %d a layer, activations %d; engine counts %v", m.KVBytesPerLayer, m.ActivationBytes, mem)
	}
	b := cpu.New(cpu.Options{Threads: 1})
	defer b.Close()
	_, untied := f.Tensor("output.weight")
	for _, r := range [][2]int{{0, 1}, {1, 2}, {m.Layers - 1, m.Layers}, {0, m.Layers}} {
		frag, err := engine.NewFragment(f, b, engine.FragmentOptions{Start: r[0], End: r[1], Batch: 1})
		if err != nil {
			t.Fatal(err)
		}
		var want int64
		for l := r[0]; l < r[1]; l++ {
			want += m.LayerBytes[l]
		}
		if r[0] == 0 {
			want += m.EmbedBytes
		}
		if r[1] == m.Layers {
			want += m.HeadBytes
			if r[0] == 0 && !untied {
				want -= m.EmbedBytes // one table for both
			}
		}
		if got := frag.WeightBytes(); got != want {
			t.Errorf("layers %d-%d load %d bytes; the model's shape says %d", r[0], r[1]-1, got, want)
		}
	}
	small, err := ModelOf(f, 64, 8)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Memory(1, 64, 8); small.KVBytesPerLayer != want.KV || small.ActivationBytes != want.Activations {
		t.Errorf("context 64, batch 8: KV %d, activations %d; engine counts %v", small.KVBytesPerLayer, small.ActivationBytes, want)
	}
}

// TestModelOfRefuses refuses a fragment file and negative sizes.
func TestModelOfRefuses(t *testing.T) {
	if _, err := ModelOf(openTiny(t), -1, 0); err == nil || !strings.Contains(err.Error(), "context of -1 positions") {
		t.Errorf("negative context: %v", err)
	}
	dir := t.TempDir()
	if _, err := engine.Split(tinyPath, [][2]int{{0, 2}, {2, 4}}, dir, nil); err != nil {
		t.Fatal(err)
	}
	frag, err := gguf.Open(filepath.Join(dir, "tiny-mistral-q4km.02-of-02.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer frag.Close()
	if _, err := ModelOf(frag, 0, 0); err == nil || !strings.Contains(err.Error(), "is fragment 1 (layers 2-3 of 4), not a whole model") {
		t.Errorf("a fragment file: %v", err)
	}
}
