package format

import (
	"slices"
	"testing"

	"strata/gguf"
)

// The values of the dequantizers are checked, bit for bit and against a
// float64 reference decoder, by package cpu's tests, with its kernels.

func TestTypes(t *testing.T) {
	want := []gguf.TensorType{gguf.F32, gguf.F16, gguf.Q4_0, gguf.Q4_1, gguf.Q5_0, gguf.Q5_1, gguf.Q8_0,
		gguf.Q2_K, gguf.Q3_K, gguf.Q4_K, gguf.Q5_K, gguf.Q6_K, gguf.IQ4_NL, gguf.IQ4_XS, gguf.BF16}
	if got := Types(); !slices.Equal(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	for _, typ := range want {
		if _, ok := Dequantizer(typ); !ok {
			t.Errorf("%v: no dequantizer", typ)
		}
	}
	if _, ok := Dequantizer(gguf.IQ2_XS); ok {
		t.Error("IQ2_XS has a dequantizer")
	}
}

func TestDequantize(t *testing.T) {
	if err := Dequantize(make([]float32, 100), make([]byte, 100), gguf.Q4_K); err == nil {
		t.Error("partial block accepted")
	}
	if err := Dequantize(make([]float32, 256), make([]byte, 143), gguf.Q4_K); err == nil {
		t.Error("short block accepted")
	}
	if err := Dequantize(make([]float32, 256), make([]byte, 74), gguf.IQ2_XS); err == nil {
		t.Error("IQ2_XS accepted")
	}
	// Two Q8_0 blocks of d = 1 (0x3c00): values are the int8s.
	src := make([]byte, 68)
	for b := range 2 {
		src[34*b], src[34*b+1] = 0x00, 0x3c
		for j := range 32 {
			src[34*b+2+j] = byte(int8(j - 16))
		}
	}
	got := make([]float32, 64)
	if err := Dequantize(got, src, gguf.Q8_0); err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != float32(i%32-16) {
			t.Fatalf("element %d = %v, want %d", i, v, i%32-16)
		}
	}
}
