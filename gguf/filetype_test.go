package gguf

import (
	"bytes"
	"testing"
)

// TestFileType: general.file_type reads as llama-quantize's names, an
// unknown number as itself, and a file without the key has none.
func TestFileType(t *testing.T) {
	for n, want := range map[uint32]string{0: "F32", 1: "F16", 7: "Q8_0", 12: "Q3_K_M", 15: "Q4_K_M", 18: "Q6_K", 30: "IQ4_XS", 32: "BF16", 99: "file type 99"} {
		w := &Writer{}
		w.Set("general.architecture", "llama")
		w.Set(KeyFileType, n)
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		f, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		ft, ok := f.FileType()
		if !ok || ft.String() != want || ft.Known() != (n != 99) {
			t.Errorf("file type %d: %q (known %v, ok %v), want %q", n, ft, ft.Known(), ok, want)
		}
	}
	w := &Writer{}
	w.Set("general.architecture", "llama")
	var buf bytes.Buffer
	w.WriteTo(&buf)
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.FileType(); ok {
		t.Error("a file without general.file_type has one")
	}
}
