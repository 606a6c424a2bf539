package cpu

import (
	"slices"
	"strings"
	"testing"

	"strata/engine"
)

// TestCopyAddBounds checks that Copy and Add refuse rows past their
// tensors and tensors of different widths with an error that Read and
// Write report, touching nothing, where they used to panic or read past.
func TestCopyAddBounds(t *testing.T) {
	for _, c := range []struct {
		name string
		op   func(b *Backend, a4x8, b3x8, c4x4 engine.Tensor)
		want string
	}{
		{"copy past dst", func(b *Backend, x, y, _ engine.Tensor) { b.Copy(y, 2, x, 0, 2) }, "cpu: copy of rows [0, 2) of 4 × 8 to rows [2, 4) of 3 × 8"},
		{"copy past src", func(b *Backend, x, y, _ engine.Tensor) { b.Copy(x, 0, y, 1, 3) }, "cpu: copy of rows [1, 4) of 3 × 8"},
		{"copy from row -1", func(b *Backend, x, y, _ engine.Tensor) { b.Copy(x, 0, y, -1, 1) }, "cpu: copy of rows [-1, 0)"},
		{"copy to row -1", func(b *Backend, x, y, _ engine.Tensor) { b.Copy(x, -1, y, 0, 1) }, "cpu: copy of rows [0, 1)"},
		{"copy of -1 rows", func(b *Backend, x, y, _ engine.Tensor) { b.Copy(x, 2, y, 2, -1) }, "cpu: copy of rows [2, 1)"},
		{"copy across widths", func(b *Backend, x, _, z engine.Tensor) { b.Copy(z, 0, x, 0, 1) }, "cpu: copy of rows [0, 1) of 4 × 8 to rows [0, 1) of 4 × 4"},
		{"add past y", func(b *Backend, x, y, _ engine.Tensor) { b.Add(x, y, 4) }, "cpu: add of 4 rows of 3 × 8 to 4 × 8"},
		{"add past x", func(b *Backend, x, y, _ engine.Tensor) { b.Add(y, x, 4) }, "cpu: add of 4 rows of 4 × 8 to 3 × 8"},
		{"add of -1 rows", func(b *Backend, x, y, _ engine.Tensor) { b.Add(x, y, -1) }, "cpu: add of -1 rows"},
		{"add across widths", func(b *Backend, x, _, z engine.Tensor) { b.Add(z, x, 2) }, "cpu: add of 2 rows of 4 × 8 to 4 × 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := New(Options{Threads: 1})
			defer b.Close()
			x, _ := b.NewTensor(4, 8)
			y, _ := b.NewTensor(3, 8)
			z, _ := b.NewTensor(4, 4)
			for i, tt := range []engine.Tensor{x, y, z} {
				v := make([]float32, tt.Rows()*tt.Cols())
				for j := range v {
					v[j] = float32(100*i + j)
				}
				if err := b.Write(tt, v); err != nil {
					t.Fatal(err)
				}
			}
			before := [][]float32{readAll(b, x), readAll(b, y), readAll(b, z)}
			c.op(b, x, y, z)
			out := make([]float32, 8)
			err := b.Read(out, x, 0, 1)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("Read after the refused operation: %v, want %q…", err, c.want)
			}
			if err := b.Write(x, out); err == nil {
				t.Error("Write after the refused operation: no error")
			}
			for i, tt := range []engine.Tensor{x, y, z} {
				if got := readAll(b, tt); !slices.Equal(got, before[i]) {
					t.Errorf("tensor %d changed", i)
				}
			}
		})
	}
	// Within bounds, both work and nothing is reported.
	b := New(Options{Threads: 1})
	defer b.Close()
	x, _ := b.NewTensor(4, 2)
	y, _ := b.NewTensor(3, 2)
	b.Write(x, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	b.Write(y, []float32{10, 20, 30, 40, 50, 60})
	b.Copy(x, 3, y, 2, 1)
	b.Add(x, y, 3)
	out := make([]float32, 8)
	if err := b.Read(out, x, 0, 4); err != nil {
		t.Fatal(err)
	}
	if want := []float32{11, 22, 33, 44, 55, 66, 50, 60}; !slices.Equal(out, want) {
		t.Fatalf("got %v, want %v", out, want)
	}
}
