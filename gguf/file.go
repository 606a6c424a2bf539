package gguf

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"slices"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

// MaxDims is the largest number of dimensions a ggml tensor has.
const MaxDims = 4

// A TensorInfo describes one tensor. Dims[0] is the innermost (contiguous)
// dimension, as in ggml: a matrix of R rows of C elements has Dims {C, R}.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   TensorType
	Offset uint64 // from the start of the data section
	Size   uint64 // bytes
}

// Elements is the number of elements of the tensor.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// A File is a parsed GGUF file. Its tensor data aliases the bytes it was
// parsed from (for Open, a read-only memory mapping); it is valid until Close.
type File struct {
	Version   uint32
	Alignment int
	KV        []KV
	Tensors   []TensorInfo
	DataStart int64 // byte offset of the data section

	data    []byte
	keys    map[string]int
	tensors map[string]int
	unmap   func() error
}

// Open maps the file at path into memory and parses it.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("gguf: %s is not a regular file", path)
	}
	if st.Size() < 4 {
		return nil, fmt.Errorf("%w: %s is %d bytes long", ErrNotGGUF, path, st.Size())
	}
	if st.Size() > math.MaxInt {
		return nil, fmt.Errorf("gguf: %s is too large to map", path)
	}
	data, unmap, err := mapFile(fd, int(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("gguf: map %s: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Close releases the memory mapping. Tensor data must not be used after.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data = nil, nil
	return err
}

// Parse parses a GGUF file held in data. The File aliases data.
func Parse(data []byte) (*File, error) {
	d := &decoder{buf: data, field: "magic"}
	magic, err := d.take(4)
	if err != nil || string(magic) != Magic {
		return nil, ErrNotGGUF
	}
	f := &File{data: data, Alignment: DefaultAlignment,
		keys: map[string]int{}, tensors: map[string]int{}}

	d.field = "version"
	if f.Version, err = d.u32(); err != nil {
		return nil, err
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("%w %d (this reader takes 2 and 3)", ErrUnsupportedVersion, f.Version)
	}
	d.field = "tensor count"
	// A tensor info takes at least 24 bytes: name length, n_dims, type, offset.
	nTensors, err := d.count(24)
	if err != nil {
		return nil, err
	}
	d.field = "metadata count"
	nKV, err := d.count(8 + 4 + 1)
	if err != nil {
		return nil, err
	}

	f.KV = make([]KV, 0, nKV)
	for i := range nKV {
		if err := f.readKV(d, i); err != nil {
			return nil, err
		}
	}
	if v, ok := f.Get("general.alignment"); ok {
		a, ok := asInt64(v)
		if _, huge := v.(uint64); !ok && !huge {
			return nil, &KeyTypeError{Key: "general.alignment", Want: "integer", Got: v}
		}
		if !ok || a <= 0 || a > 1<<20 || a&(a-1) != 0 {
			return nil, &FormatError{Offset: int64(d.off), Field: `key "general.alignment"`,
				Err: fmt.Errorf("alignment %v is not a power of two up to 1 MiB", v)}
		}
		f.Alignment = int(a)
	}

	f.Tensors = make([]TensorInfo, 0, nTensors)
	for i := range nTensors {
		if err := f.readTensorInfo(d, i); err != nil {
			return nil, err
		}
	}

	pad := (f.Alignment - d.off%f.Alignment) % f.Alignment
	f.DataStart = int64(d.off + pad)
	if err := f.checkTensorData(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) readKV(d *decoder, i int) error {
	at := d.off
	d.field = fmt.Sprintf("metadata key #%d", i)
	key, err := d.str()
	if err != nil {
		return err
	}
	if !validName(key) {
		return d.fail(at, "key is empty or not UTF-8")
	}
	if _, dup := f.keys[key]; dup {
		return d.fail(at, "duplicate key %q", key)
	}
	d.field = fmt.Sprintf("key %q", key)
	t, err := d.u32()
	if err != nil {
		return err
	}
	v, err := d.value(ValueType(t), 0)
	if err != nil {
		return err
	}
	f.keys[key] = len(f.KV)
	f.KV = append(f.KV, KV{Key: key, Value: v})
	return nil
}

func (f *File) readTensorInfo(d *decoder, i int) error {
	at := d.off
	d.field = fmt.Sprintf("tensor #%d name", i)
	name, err := d.str()
	if err != nil {
		return err
	}
	if !validName(name) {
		return d.fail(at, "tensor name is empty or not UTF-8")
	}
	if _, dup := f.tensors[name]; dup {
		return d.fail(at, "duplicate tensor %q", name)
	}
	d.field = fmt.Sprintf("tensor %q dims", name)
	at = d.off
	nd, err := d.u32()
	if err != nil {
		return err
	}
	if nd == 0 || nd > MaxDims {
		return d.fail(at, "%d dimensions (want 1 to %d)", nd, MaxDims)
	}
	dims := make([]uint64, nd)
	elems := uint64(1)
	for j := range dims {
		at := d.off
		if dims[j], err = d.u64(); err != nil {
			return err
		}
		hi, lo := bits.Mul64(elems, dims[j])
		if hi != 0 || lo > math.MaxInt64 {
			return d.fail(at, "element count overflows")
		}
		elems = lo
	}
	d.field = fmt.Sprintf("tensor %q type", name)
	at = d.off
	tt, err := d.u32()
	if err != nil {
		return err
	}
	typ := TensorType(tt)
	if !typ.Known() {
		return d.fail(at, "unknown tensor type %d", tt)
	}
	if dims[0]%uint64(typ.BlockSize()) != 0 {
		return d.fail(at, "row of %d elements is not a whole number of %v blocks of %d",
			dims[0], typ, typ.BlockSize())
	}
	d.field = fmt.Sprintf("tensor %q offset", name)
	at = d.off
	off, err := d.u64()
	if err != nil {
		return err
	}
	if off%uint64(f.Alignment) != 0 {
		return d.fail(at, "offset %d is not a multiple of the alignment %d", off, f.Alignment)
	}
	blocks := elems / uint64(typ.BlockSize())
	hi, size := bits.Mul64(blocks, uint64(typ.TypeSize()))
	if hi != 0 || size > math.MaxInt64 {
		return d.fail(at, "size overflows")
	}
	f.tensors[name] = len(f.Tensors)
	f.Tensors = append(f.Tensors, TensorInfo{Name: name, Dims: dims, Type: typ, Offset: off, Size: size})
	return nil
}

// checkTensorData checks that every tensor lies inside the file and that
// no two overlap.
func (f *File) checkTensorData() error {
	avail := uint64(0)
	if int64(len(f.data)) > f.DataStart {
		avail = uint64(int64(len(f.data)) - f.DataStart)
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		oa, ob := f.Tensors[a].Offset, f.Tensors[b].Offset
		if oa < ob {
			return -1
		} else if oa > ob {
			return 1
		}
		return 0
	})
	end := uint64(0)
	prev := ""
	for _, i := range order {
		t := &f.Tensors[i]
		at := f.DataStart + int64(min(t.Offset, math.MaxInt64/2))
		if t.Offset > avail || t.Size > avail-t.Offset {
			return &FormatError{Offset: at, Field: fmt.Sprintf("tensor %q data", t.Name),
				Err: fmt.Errorf("%w: %d bytes at data offset %d, the data section holds %d",
					ErrTruncated, t.Size, t.Offset, avail)}
		}
		if t.Offset < end && t.Size > 0 {
			return &FormatError{Offset: at, Field: fmt.Sprintf("tensor %q data", t.Name),
				Err: fmt.Errorf("overlaps tensor %q", prev)}
		}
		end = max(end, t.Offset+t.Size)
		prev = t.Name
	}
	return nil
}

// Get returns the value of key.
func (f *File) Get(key string) (any, bool) {
	i, ok := f.keys[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// ErrMissingKey reports metadata that a caller requires and the file lacks.
var ErrMissingKey = errors.New("missing metadata key")

// A KeyTypeError reports a metadata value of another type than expected.
type KeyTypeError struct {
	Key  string
	Want string
	Got  any
}

func (e *KeyTypeError) Error() string {
	return fmt.Sprintf("gguf: key %q holds %s, want %s", e.Key, typeName(e.Got), e.Want)
}

// typeName names the GGUF type of a metadata value: "uint32", "string",
// "array of float32".
func typeName(v any) string {
	if a, ok := v.(Array); ok {
		return "array of " + a.Type.String()
	}
	if t, ok := valueTypeOf(v); ok {
		return t.String()
	}
	return fmt.Sprintf("%T", v)
}

// String returns a string value.
func (f *File) String(key string) (string, error) {
	v, ok := f.Get(key)
	if !ok {
		return "", fmt.Errorf("gguf: %w %q", ErrMissingKey, key)
	}
	s, ok := v.(string)
	if !ok {
		return "", &KeyTypeError{key, "string", v}
	}
	return s, nil
}

// Int returns an integer value of any integer type.
func (f *File) Int(key string) (int64, error) {
	v, ok := f.Get(key)
	if !ok {
		return 0, fmt.Errorf("gguf: %w %q", ErrMissingKey, key)
	}
	n, ok := asInt64(v)
	if !ok {
		return 0, &KeyTypeError{key, "integer", v}
	}
	return n, nil
}

// Float returns a float32 or float64 value as float64.
func (f *File) Float(key string) (float64, error) {
	v, ok := f.Get(key)
	if !ok {
		return 0, fmt.Errorf("gguf: %w %q", ErrMissingKey, key)
	}
	switch x := v.(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, &KeyTypeError{key, "float", v}
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, error) {
	v, ok := f.Get(key)
	if !ok {
		return false, fmt.Errorf("gguf: %w %q", ErrMissingKey, key)
	}
	b, ok := v.(bool)
	if !ok {
		return false, &KeyTypeError{key, "bool", v}
	}
	return b, nil
}

// Array returns an array value.
func (f *File) Array(key string) (Array, error) {
	v, ok := f.Get(key)
	if !ok {
		return Array{}, fmt.Errorf("gguf: %w %q", ErrMissingKey, key)
	}
	a, ok := v.(Array)
	if !ok {
		return Array{}, &KeyTypeError{key, "array", v}
	}
	return a, nil
}

// Tensor returns the description of the named tensor.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensors[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Evict tells the operating system that the process no longer needs the
// pages of t's data, once a backend has copied them (into huge pages of
// its own, or onto a device): the file's pages then leave the process's
// resident set, and the model is not held twice. They stay in the page
// cache, and TensorData(t) still reads the same bytes, faulting them back
// in. Evict does nothing for a File parsed from bytes, and on systems
// without madvise.
func (f *File) Evict(t *TensorInfo) {
	if f.unmap == nil || f.data == nil {
		return
	}
	dropPages(f.TensorData(t))
}

// TensorData returns the bytes of t, a slice of the file's mapping.
func (f *File) TensorData(t *TensorInfo) []byte {
	start := f.DataStart + int64(t.Offset)
	return f.data[start : start+int64(t.Size) : start+int64(t.Size)]
}
