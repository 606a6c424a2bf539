package cpu

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"strata/gguf"
)

// TestLlamaQuantized dequantizes the llama.cpp-quantized tensors of
// format's fixture (format/testdata/README.md) in every kernel variant
// and checks every value, bit for bit, against gguf-py's.
func TestLlamaQuantized(t *testing.T) {
	f, err := gguf.Open(filepath.Join("..", "format", "testdata", "quants.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, v := range supportedVariants() {
		for _, typ := range Supported() {
			t.Run(v.String()+"/"+typ.String(), func(t *testing.T) {
				q, ok := f.Tensor(typ.String())
				if !ok {
					t.Fatalf("no %v tensor in the fixture", typ)
				}
				w, _ := f.Tensor(typ.String() + ".want")
				want := f.TensorData(w)
				got := make([]float32, q.Elements())
				dequantizer(typ, v)(got, f.TensorData(q))
				same := 0
				for i, g := range got {
					if math.Float32bits(g) == binary.LittleEndian.Uint32(want[4*i:]) {
						same++
					}
				}
				if same != len(got) {
					t.Errorf("%v %v: %d of %d values differ from gguf-py's", v, typ, len(got)-same, len(got))
				}
			})
		}
	}
}
