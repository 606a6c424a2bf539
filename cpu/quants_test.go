package cpu

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"strata/gguf"
)

// TestLlamaQuantized embeds every row of the llama.cpp-quantized tensors
// of format's fixture (format/testdata/README.md) with the backend, in
// every kernel variant, and checks every value, bit for bit, against
// gguf-py's.
func TestLlamaQuantized(t *testing.T) {
	f, err := gguf.Open(filepath.Join("..", "format", "testdata", "quants.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, v := range supportedVariants() {
		b := New(Options{Threads: 1, Kernels: v.String()})
		defer b.Close()
		for _, typ := range Supported() {
			t.Run(v.String()+"/"+typ.String(), func(t *testing.T) {
				q, ok := f.Tensor(typ.String())
				if !ok {
					t.Fatalf("no %v tensor in the fixture", typ)
				}
				w, _ := f.Tensor(typ.String() + ".want")
				want := f.TensorData(w)
				rows, cols := int(q.Dims[1]), int(q.Dims[0])
				weight, err := b.LoadWeight(q, f.TensorData(q))
				if err != nil {
					t.Fatal(err)
				}
				tokens := make([]int32, rows)
				for i := range tokens {
					tokens[i] = int32(rows - 1 - i)
				}
				out, _ := b.NewTensor(rows, cols)
				b.Embed(out, weight, tokens)
				got := make([]float32, rows*cols)
				if err := b.Read(got, out, 0, rows); err != nil {
					t.Fatal(err)
				}
				same := 0
				for i, tok := range tokens {
					for c := range cols {
						if math.Float32bits(got[i*cols+c]) == binary.LittleEndian.Uint32(want[4*(int(tok)*cols+c):]) {
							same++
						}
					}
				}
				if same != len(got) {
					t.Errorf("%v %v: %d of %d values differ from gguf-py's", v, typ, len(got)-same, len(got))
				}
			})
		}
	}
}
