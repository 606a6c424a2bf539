package gguf

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, hang or return a file
// whose tensors lie outside the input.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.gguf")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for i := range file.Tensors {
			ti := &file.Tensors[i]
			if got := uint64(len(file.TensorData(ti))); got != ti.Size {
				t.Fatalf("tensor %q: %d bytes, info says %d", ti.Name, got, ti.Size)
			}
		}
	})
}
