//go:build cgo

package gpu_test

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"strata/gguf"
	"strata/shaders"
)

// TestLlamaQuantized embeds every row of the llama.cpp-quantized tensors
// of format's fixture (format/testdata/README.md) with the Vulkan
// shaders and checks every value, bit for bit, against gguf-py's.
func TestLlamaQuantized(t *testing.T) {
	g := openGPU(t)
	f, err := gguf.Open(filepath.Join("..", "format", "testdata", "quants.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, typ := range shaders.Types {
		t.Run(typ.String(), func(t *testing.T) {
			q, ok := f.Tensor(typ.String())
			if !ok {
				t.Fatalf("no %v tensor in the fixture", typ)
			}
			w, _ := f.Tensor(typ.String() + ".want")
			want := f.TensorData(w)
			rows, cols := int(q.Dims[1]), int(q.Dims[0])
			weight, err := g.LoadWeight(q, f.TensorData(q))
			if err != nil {
				t.Fatal(err)
			}
			tokens := make([]int32, rows)
			for i := range tokens {
				tokens[i] = int32(rows - 1 - i) // in reverse, so that a row's place matters
			}
			out, err := g.NewTensor(rows, cols)
			if err != nil {
				t.Fatal(err)
			}
			g.Embed(out, weight, tokens)
			got := make([]float32, rows*cols)
			if err := g.Read(got, out, 0, rows); err != nil {
				t.Fatal(err)
			}
			same := 0
			for i, tok := range tokens {
				for c := range cols {
					v := got[i*cols+c]
					wb := binary.LittleEndian.Uint32(want[4*(int(tok)*cols+c):])
					if math.Float32bits(v) == wb {
						same++
					} else if same+10 > i*cols+c {
						t.Errorf("row %d value %d: %v, gguf-py %v", tok, c, v, math.Float32frombits(wb))
					}
				}
			}
			t.Logf("%v: %d of %d values bit for bit", typ, same, len(got))
			if same != len(got) {
				t.Errorf("%v: %d of %d values differ from gguf-py's", typ, len(got)-same, len(got))
			}
		})
	}
}
