package engine

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"strata/gguf"
)

// TestCheckFinite sets each scale of each quantized type, and elements of
// float vectors, to NaN or ±Inf: the error names the tensor, the block
// (or element) and the scale. Other bytes of the blocks may hold any bits.
func TestCheckFinite(t *testing.T) {
	for typ, scales := range blockScales {
		size := typ.TypeSize()
		for _, s := range scales {
			for _, h := range []uint16{0x7c00, 0xfc00, 0x7e00, 0x7c01} {
				data := make([]byte, 3*size)
				for i := range data {
					data[i] = 0xff // quants of every bit, and NaN scales, until the scales are cleared
				}
				for b := range 3 {
					for _, s := range scales {
						binary.LittleEndian.PutUint16(data[b*size+s.at:], 0x3c00) // 1.0
					}
				}
				ti := &gguf.TensorInfo{Name: "w", Type: typ, Dims: []uint64{uint64(typ.BlockSize()), 3}}
				if err := checkFinite(ti, data); err != nil {
					t.Fatalf("%v: finite scales: %v", typ, err)
				}
				binary.LittleEndian.PutUint16(data[2*size+s.at:], h)
				var e *NonFiniteError
				if err := checkFinite(ti, data); !errors.As(err, &e) || e.Index != 2 || e.Scale != s.name || e.Tensor != "w" ||
					!(math.IsNaN(e.Value) || math.IsInf(e.Value, 0)) {
					t.Errorf("%v, scale %s = %#04x: %v", typ, s.name, h, err)
				}
			}
		}
	}
	le := binary.LittleEndian
	for _, c := range []struct {
		typ  gguf.TensorType
		put  func([]byte, int)
		want string
	}{
		{gguf.F32, func(d []byte, i int) { le.PutUint32(d[4*i:], math.Float32bits(float32(math.NaN()))) }, `engine: tensor "norm": element 3 is NaN`},
		{gguf.F32, func(d []byte, i int) { le.PutUint32(d[4*i:], math.Float32bits(float32(math.Inf(-1)))) }, `engine: tensor "norm": element 3 is -Inf`},
		{gguf.F16, func(d []byte, i int) { le.PutUint16(d[2*i:], 0x7c00) }, `engine: tensor "norm": element 3 is +Inf`},
		{gguf.BF16, func(d []byte, i int) { le.PutUint16(d[2*i:], 0x7fc0) }, `engine: tensor "norm": element 3 is NaN`},
	} {
		ti := &gguf.TensorInfo{Name: "norm", Type: c.typ, Dims: []uint64{8}}
		data := make([]byte, 8*c.typ.TypeSize())
		if err := checkFinite(ti, data); err != nil {
			t.Fatalf("%v: zeros: %v", c.typ, err)
		}
		c.put(data, 3)
		if err := checkFinite(ti, data); err == nil || err.Error() != c.want {
			t.Errorf("%v: %v, want %s", c.typ, err, c.want)
		}
		// A matrix's elements are not read: only vectors are cheap.
		ti.Dims = []uint64{4, 2}
		if err := checkFinite(ti, data); err != nil {
			t.Errorf("%v matrix: %v", c.typ, err)
		}
	}
}
