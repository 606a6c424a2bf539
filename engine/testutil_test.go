package engine_test

import (
	"path/filepath"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/engine/testmodel"
	"strata/gguf"
)

var tinyDir = filepath.Join("..", "testdata", "tiny-mistral")

func loadReference(t testing.TB) *testmodel.Reference {
	t.Helper()
	r, err := testmodel.LoadReference(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// loadRows reads the float32 rows of a .f32 file of the tiny model.
func loadRows(t testing.TB, name string, vocab int) [][]float32 {
	t.Helper()
	rows, err := testmodel.ReadRows(filepath.Join(tinyDir, name), vocab)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

var (
	nmse   = testmodel.NMSE
	argmax = testmodel.Argmax
)

func openTiny(t testing.TB) *gguf.File {
	t.Helper()
	f, err := gguf.Open(filepath.Join(tinyDir, "tiny-mistral-q4km.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func cpuBackend(t testing.TB) engine.Backend {
	b := cpu.New(cpu.Options{})
	t.Cleanup(func() { b.Close() })
	return b
}
