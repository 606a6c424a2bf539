package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.gguf from the writer")

// sample builds a small file that uses every value type, nested arrays,
// a custom alignment and tensors of several types.
func sample(t testing.TB) *Writer {
	t.Helper()
	w := &Writer{}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Set("general.architecture", "llama"))
	must(w.Set("general.alignment", uint32(64)))
	must(w.Set("u8", uint8(200)))
	must(w.Set("i8", int8(-100)))
	must(w.Set("u16", uint16(60000)))
	must(w.Set("i16", int16(-30000)))
	must(w.Set("u32", uint32(4000000000)))
	must(w.Set("i32", int32(-2000000000)))
	must(w.Set("f32", float32(1.5)))
	must(w.Set("bool", true))
	must(w.Set("str", "héllo ▁world"))
	must(w.Set("u64", uint64(1<<63)))
	must(w.Set("i64", int64(-1<<62)))
	must(w.Set("f64", 2.25))
	must(w.Set("strings", []string{"a", "", "ccc"}))
	must(w.Set("floats", []float32{1, -2, 3.5}))
	must(w.Set("bools", []bool{true, false}))
	must(w.Set("nested", Array{TypeArray, []Array{
		{TypeInt32, []int32{1, 2}},
		{TypeString, []string{"x"}},
	}}))
	must(w.AddTensor("a", F32, []uint64{4, 2}, make([]byte, 32)))
	q := make([]byte, 2*144)
	for i := range q {
		q[i] = byte(i)
	}
	must(w.AddTensor("b", Q4_K, []uint64{256, 2}, q))
	must(w.AddTensor("c", Q6_K, []uint64{256}, bytes.Repeat([]byte{7}, 210)))
	return w
}

func encode(t testing.TB, w *Writer) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	w := sample(t)
	data := encode(t, w)
	if *update {
		if err := os.WriteFile("testdata/all-types.gguf", data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 64 || f.DataStart%64 != 0 {
		t.Fatalf("version %d alignment %d data start %d", f.Version, f.Alignment, f.DataStart)
	}
	if !reflect.DeepEqual(f.KV, w.kv) {
		t.Errorf("metadata differs:\n got %v\nwant %v", f.KV, w.kv)
	}
	for _, wt := range w.tensors {
		ti, ok := f.Tensor(wt.info.Name)
		if !ok {
			t.Fatalf("tensor %q missing", wt.info.Name)
		}
		if ti.Type != wt.info.Type || !reflect.DeepEqual(ti.Dims, wt.info.Dims) || ti.Offset%64 != 0 {
			t.Errorf("tensor %q: got %+v want %+v", ti.Name, *ti, wt.info)
		}
		if !bytes.Equal(f.TensorData(ti), wt.bytes) {
			t.Errorf("tensor %q data differs", ti.Name)
		}
	}
	if n, err := f.Int("u32"); err != nil || n != 4000000000 {
		t.Errorf("Int(u32) = %d, %v", n, err)
	}
	if _, err := f.Int("u64"); err == nil {
		t.Error("Int of 1<<63 should not fit int64")
	}
	if _, err := f.String("missing"); !errors.Is(err, ErrMissingKey) {
		t.Errorf("missing key: %v", err)
	}
	var kte *KeyTypeError
	if _, err := f.String("u8"); !errors.As(err, &kte) {
		t.Errorf("wrong type: %v", err)
	}
	// The type named is GGUF's, arrays with their element type.
	for _, c := range []struct {
		got  any
		want string
	}{
		{uint8(1), `gguf: key "k" holds uint8, want string`},
		{Array{Type: TypeInt32, Values: []int32{1}}, `gguf: key "k" holds array of int32, want string`},
	} {
		if got := (&KeyTypeError{Key: "k", Want: "string", Got: c.got}).Error(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}

func TestOpenSeeds(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.gguf")
	if len(paths) == 0 {
		t.Fatal("no testdata/*.gguf")
	}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// header writes a GGUF header with the given counts.
func header(version uint32, nTensors, nKV uint64) []byte {
	b := []byte(Magic)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint64(b, nTensors)
	return binary.LittleEndian.AppendUint64(b, nKV)
}

func appendStr(b []byte, s string) []byte {
	return append(binary.LittleEndian.AppendUint64(b, uint64(len(s))), s...)
}

func TestBadInput(t *testing.T) {
	good := encode(t, sample(t))
	kv := func(key string, typ uint32, payload ...byte) []byte {
		b := appendStr(header(3, 0, 1), key)
		b = binary.LittleEndian.AppendUint32(b, typ)
		return append(b, payload...)
	}
	tensor := func(name string, dims []uint64, typ uint32, off uint64) []byte {
		b := appendStr(header(3, 1, 0), name)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(dims)))
		for _, d := range dims {
			b = binary.LittleEndian.AppendUint64(b, d)
		}
		b = binary.LittleEndian.AppendUint32(b, typ)
		b = binary.LittleEndian.AppendUint64(b, off)
		return append(b, make([]byte, 64)...)
	}
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a GGUF file"},
		{"not gguf", []byte("PK\x03\x04 zip file"), "not a GGUF file"},
		{"version 1", header(1, 0, 0), "unsupported version 1"},
		{"version 4", header(4, 0, 0), "unsupported version 4"},
		{"truncated header", header(3, 0, 0)[:10], "tensor count at byte 8: truncated"},
		{"huge tensor count", header(3, 1<<60, 0), "tensor count at byte 8: truncated"},
		{"huge kv count", header(3, 0, 1<<62), "metadata count at byte 16: truncated"},
		{"huge string", append(append(header(3, 0, 1), u64(1<<40)...), make([]byte, 16)...), "metadata key #0 at byte 24: truncated"},
		{"unknown value type", kv("k", 99), `key "k"`},
		{"bad bool", kv("k", uint32(TypeBool), 7), "neither 0 nor 1"},
		{"huge array", kv("k", uint32(TypeArray), append(binary.LittleEndian.AppendUint32(nil, uint32(TypeUint64)), u64(1<<50)...)...), `key "k" at byte 41: truncated`},
		{"bad array type", kv("k", uint32(TypeArray), append(binary.LittleEndian.AppendUint32(nil, 77), u64(0)...)...), "unknown array element type 77"},
		{"truncated value", kv("k", uint32(TypeUint64), 1, 2), "truncated: need 8 bytes, 2 left"},
		{"bad alignment", kv("general.alignment", uint32(TypeUint32), 3, 0, 0, 0), "not a power of two"},
		{"string alignment", kv("general.alignment", uint32(TypeString), append(u64(2), "32"...)...), `key "general.alignment" holds string, want integer`},
		{"float alignment", kv("general.alignment", uint32(TypeFloat32), 0, 0, 0, 0x42), `key "general.alignment" holds float32, want integer`},
		{"zero dims", tensor("t", nil, 0, 0), `tensor "t" dims`},
		{"five dims", tensor("t", []uint64{1, 1, 1, 1, 1}, 0, 0), "5 dimensions"},
		{"dims overflow", tensor("t", []uint64{1 << 40, 1 << 40}, 0, 0), "element count overflows"},
		{"unknown type", tensor("t", []uint64{4}, 31, 0), "unknown tensor type 31"},
		{"partial block", tensor("t", []uint64{100}, uint32(Q4_K), 0), "not a whole number of Q4_K blocks"},
		{"misaligned", tensor("t", []uint64{4}, 0, 4), "not a multiple of the alignment"},
		{"data past end", tensor("t", []uint64{1024}, 0, 0), `tensor "t" data`},
		{"truncated file", good[:len(good)-100], "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestOverlap(t *testing.T) {
	w := &Writer{}
	w.AddTensor("a", F32, []uint64{16}, make([]byte, 64))
	w.AddTensor("b", F32, []uint64{16}, make([]byte, 64))
	data := encode(t, w)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	// Point b's offset at a's data: find b's offset field, the last 8 bytes
	// of its tensor info, just before the padding.
	ti, _ := f.Tensor("b")
	needle := binary.LittleEndian.AppendUint64(nil, ti.Offset)
	i := bytes.LastIndex(data[:f.DataStart], needle)
	copy(data[i:], make([]byte, 8))
	if _, err := Parse(data); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("got %v", err)
	}
}

func TestWriterRejects(t *testing.T) {
	w := &Writer{}
	if err := w.AddTensor("x", Q4_K, []uint64{100}, nil); err == nil {
		t.Error("partial block accepted")
	}
	if err := w.AddTensor("x", F32, []uint64{4}, make([]byte, 15)); err == nil {
		t.Error("wrong size accepted")
	}
	if err := w.Set("k", struct{}{}); err == nil {
		t.Error("struct value accepted")
	}
	if err := w.Set("k", Array{TypeInt32, []float32{1}}); err == nil {
		t.Error("mistyped array accepted")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.gguf")
	os.WriteFile(p, []byte("hello world"), 0o644)
	if _, err := Open(p); !errors.Is(err, ErrNotGGUF) {
		t.Errorf("text file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "none")); err == nil {
		t.Error("missing file opened")
	}
	if _, err := Open(dir); err == nil {
		t.Error("directory opened")
	}
}
