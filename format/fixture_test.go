package format

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"strata/gguf"
)

// TestLlamaQuantized dequantizes tensors that llama.cpp's quantizer wrote,
// one of every type this package decodes, and checks every value, bit for
// bit, against gguf-py's reference dequantizer (testdata/README.md says
// how tools/quant-fixtures.sh made them).
func TestLlamaQuantized(t *testing.T) {
	f, err := gguf.Open(filepath.Join("testdata", "quants.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, typ := range Types() {
		t.Run(typ.String(), func(t *testing.T) {
			q, ok := f.Tensor(typ.String())
			if !ok {
				t.Fatalf("no %v tensor in the fixture", typ)
			}
			w, ok := f.Tensor(typ.String() + ".want")
			if !ok || w.Type != gguf.F32 || w.Elements() != q.Elements() {
				t.Fatalf("no %d F32 values to compare %v with", q.Elements(), typ)
			}
			if q.Type != typ {
				t.Fatalf("tensor %q is %v", q.Name, q.Type)
			}
			want := f.TensorData(w)
			got := make([]float32, q.Elements())
			if err := Dequantize(got, f.TensorData(q), typ); err != nil {
				t.Fatal(err)
			}
			same := 0
			for i, g := range got {
				wb := binary.LittleEndian.Uint32(want[4*i:])
				if math.Float32bits(g) == wb {
					same++
				} else if same+10 > i {
					t.Errorf("value %d: %v (%#08x), gguf-py %v (%#08x)", i, g, math.Float32bits(g), math.Float32frombits(wb), wb)
				}
			}
			t.Logf("%v: %d of %d values bit for bit", typ, same, len(got))
			if same != len(got) {
				t.Errorf("%v: %d of %d values differ from gguf-py's", typ, len(got)-same, len(got))
			}
		})
	}
}
