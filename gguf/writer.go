package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// A Writer assembles a GGUF v3 file: metadata in the order it is set, then
// tensors in the order they are added. Tensor bytes are not copied until
// WriteTo, so a writer fed slices of a memory-mapped model streams it.
// The zero Writer is ready to use.
type Writer struct {
	kv      []KV
	keys    map[string]int
	tensors []writerTensor
	names   map[string]bool
}

type writerTensor struct {
	info   TensorInfo
	bytes  []byte    // the data, when given as bytes
	reader io.Reader // else where it is read from
}

// Set sets a metadata key, replacing an earlier value of the same key.
// The value must be one of the types KV documents; Go int is stored as int32
// when it fits and int64 otherwise, []string and other Go slices of those
// types become arrays.
func (w *Writer) Set(key string, value any) error {
	if !validName(key) {
		return fmt.Errorf("gguf: metadata key %q is empty or not UTF-8", key)
	}
	v, err := normalize(value)
	if err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	if w.keys == nil {
		w.keys = map[string]int{}
	}
	if i, ok := w.keys[key]; ok {
		w.kv[i].Value = v
		return nil
	}
	w.keys[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: v})
	return nil
}

// normalize maps convenient Go values onto GGUF value types.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case int:
		if x >= math.MinInt32 && x <= math.MaxInt32 {
			return int32(x), nil
		}
		return int64(x), nil
	case []string:
		return Array{TypeString, x}, nil
	case []float32:
		return Array{TypeFloat32, x}, nil
	case []int32:
		return Array{TypeInt32, x}, nil
	case []uint32:
		return Array{TypeUint32, x}, nil
	case []uint8:
		return Array{TypeUint8, x}, nil
	case []int64:
		return Array{TypeInt64, x}, nil
	case []float64:
		return Array{TypeFloat64, x}, nil
	case []bool:
		return Array{TypeBool, x}, nil
	case Array:
		if err := checkArray(x); err != nil {
			return nil, err
		}
		return x, nil
	}
	if _, ok := valueTypeOf(v); !ok {
		return nil, fmt.Errorf("unsupported value type %T", v)
	}
	return v, nil
}

func checkArray(a Array) error {
	want := map[ValueType]string{
		TypeUint8: "[]uint8", TypeInt8: "[]int8", TypeUint16: "[]uint16", TypeInt16: "[]int16",
		TypeUint32: "[]uint32", TypeInt32: "[]int32", TypeFloat32: "[]float32", TypeBool: "[]bool",
		TypeString: "[]string", TypeArray: "[]gguf.Array", TypeUint64: "[]uint64",
		TypeInt64: "[]int64", TypeFloat64: "[]float64",
	}[a.Type]
	if got := fmt.Sprintf("%T", a.Values); got != want {
		return fmt.Errorf("array of %v holds %s", a.Type, got)
	}
	if sub, ok := a.Values.([]Array); ok {
		for _, s := range sub {
			if err := checkArray(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// AddTensor adds a tensor whose bytes are data. Dims follow ggml order
// (Dims[0] innermost).
func (w *Writer) AddTensor(name string, typ TensorType, dims []uint64, data []byte) error {
	return w.addTensor(name, typ, dims, int64(len(data)), data, nil)
}

// AddTensorReader adds a tensor whose size bytes are read from r at WriteTo.
func (w *Writer) AddTensorReader(name string, typ TensorType, dims []uint64, size int64, r io.Reader) error {
	return w.addTensor(name, typ, dims, size, nil, r)
}

func (w *Writer) addTensor(name string, typ TensorType, dims []uint64, size int64, data []byte, r io.Reader) error {
	if !validName(name) {
		return fmt.Errorf("gguf: tensor name %q is empty or not UTF-8", name)
	}
	if w.names[name] {
		return fmt.Errorf("gguf: duplicate tensor %q", name)
	}
	if !typ.Known() {
		return fmt.Errorf("gguf: tensor %q: unknown type %v", name, typ)
	}
	if len(dims) == 0 || len(dims) > MaxDims {
		return fmt.Errorf("gguf: tensor %q: %d dimensions (want 1 to %d)", name, len(dims), MaxDims)
	}
	if dims[0]%uint64(typ.BlockSize()) != 0 {
		return fmt.Errorf("gguf: tensor %q: row of %d is not a whole number of %v blocks", name, dims[0], typ)
	}
	info := TensorInfo{Name: name, Dims: append([]uint64(nil), dims...), Type: typ}
	want := info.Elements() / uint64(typ.BlockSize()) * uint64(typ.TypeSize())
	if uint64(size) != want {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, %v %v needs %d", name, size, typ, dims, want)
	}
	info.Size = want
	if w.names == nil {
		w.names = map[string]bool{}
	}
	w.names[name] = true
	w.tensors = append(w.tensors, writerTensor{info: info, bytes: data, reader: r})
	return nil
}

// alignment is the alignment the file will declare.
func (w *Writer) alignment() int {
	if i, ok := w.keys["general.alignment"]; ok {
		if a, ok := asInt64(w.kv[i].Value); ok && a > 0 && a&(a-1) == 0 {
			return int(a)
		}
	}
	return DefaultAlignment
}

// WriteTo writes the file.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if i, ok := w.keys["general.alignment"]; ok {
		if a, ok := asInt64(w.kv[i].Value); !ok || a <= 0 || a&(a-1) != 0 {
			return 0, errors.New("gguf: general.alignment must be a positive power of two")
		}
	}
	align := uint64(w.alignment())
	bw := &countingWriter{w: bufio.NewWriterSize(out, 1<<20)}
	e := &encoder{w: bw}
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kv)))
	for _, kv := range w.kv {
		e.str(kv.Key)
		t, _ := valueTypeOf(kv.Value)
		e.u32(uint32(t))
		e.value(kv.Value)
	}
	off := uint64(0)
	for i := range w.tensors {
		t := &w.tensors[i].info
		t.Offset = off
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
		off += (t.Size + align - 1) / align * align
	}
	e.pad(align)
	for _, wt := range w.tensors {
		if e.err != nil {
			break
		}
		if wt.reader == nil {
			e.raw(wt.bytes)
		} else if n, err := io.CopyN(bw, wt.reader, int64(wt.info.Size)); err != nil {
			e.err = fmt.Errorf("gguf: tensor %q: copied %d of %d bytes: %w", wt.info.Name, n, wt.info.Size, err)
		}
		e.pad(align)
	}
	if e.err == nil {
		e.err = bw.w.(*bufio.Writer).Flush()
	}
	return bw.n, e.err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian fields and keeps the first error.
type encoder struct {
	w   *countingWriter
	err error
	buf [8]byte
}

func (e *encoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u8(v uint8) { e.raw([]byte{v}) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.raw(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.raw(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.raw(e.buf[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.raw([]byte(s))
}

func (e *encoder) pad(align uint64) {
	if n := uint64(e.w.n) % align; n != 0 {
		e.raw(make([]byte, align-n))
	}
}

func (e *encoder) value(v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case Array:
		e.u32(uint32(x.Type))
		e.u64(uint64(x.Len()))
		e.array(x)
	}
}

func (e *encoder) array(a Array) {
	switch v := a.Values.(type) {
	case []uint8:
		e.raw(v)
	case []int8:
		for _, x := range v {
			e.u8(uint8(x))
		}
	case []uint16:
		for _, x := range v {
			e.u16(x)
		}
	case []int16:
		for _, x := range v {
			e.u16(uint16(x))
		}
	case []uint32:
		for _, x := range v {
			e.u32(x)
		}
	case []int32:
		for _, x := range v {
			e.u32(uint32(x))
		}
	case []float32:
		for _, x := range v {
			e.u32(math.Float32bits(x))
		}
	case []bool:
		for _, x := range v {
			e.value(x)
		}
	case []string:
		for _, x := range v {
			e.str(x)
		}
	case []uint64:
		for _, x := range v {
			e.u64(x)
		}
	case []int64:
		for _, x := range v {
			e.u64(uint64(x))
		}
	case []float64:
		for _, x := range v {
			e.u64(math.Float64bits(x))
		}
	case []Array:
		for _, x := range v {
			e.value(x)
		}
	}
}
