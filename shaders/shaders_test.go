package shaders

import (
	"os"
	"testing"
)

// TestSPIRVUpToDate fails when a shader source changed after its .spv was
// compiled: run `make shaders`.
func TestSPIRVUpToDate(t *testing.T) {
	src := os.DirFS(".")
	sums, err := Sums(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Variants() {
		want, err := Hash(src, v)
		if err != nil {
			t.Fatal(err)
		}
		if sums[v.Name] != want {
			t.Errorf("%s.spv is stale (its sources changed): run `make shaders`", v.Name)
		}
		if _, err := SPIRV(v.Name); err != nil {
			t.Error(err)
		}
	}
}
