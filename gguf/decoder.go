package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// decoder reads little-endian fields from a byte slice and never reads
// past its end: every read is checked, and the first failure is returned
// as a *FormatError.
type decoder struct {
	buf   []byte
	off   int
	field string // what is being read, for errors
}

func (d *decoder) fail(at int, format string, args ...any) error {
	return &FormatError{Offset: int64(at), Field: d.field, Err: fmt.Errorf(format, args...)}
}

func (d *decoder) remaining() int { return len(d.buf) - d.off }

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, &FormatError{Offset: int64(d.off), Field: d.field,
			Err: fmt.Errorf("%w: need %d bytes, %d left", ErrTruncated, n, d.remaining())}
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a u64 element count and checks that count elements of at
// least minSize bytes each fit in what is left of the file.
func (d *decoder) count(minSize int) (int, error) {
	at := d.off
	n, err := d.u64()
	if err != nil {
		return 0, err
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(d.remaining()/minSize) {
		return 0, d.fail(at, "%w: count %d needs at least %d bytes each, only %d bytes left",
			ErrTruncated, n, minSize, d.remaining())
	}
	return int(n), nil
}

func (d *decoder) str() (string, error) {
	n, err := d.count(1)
	if err != nil {
		return "", err
	}
	b, err := d.take(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// value reads one value of type t; depth bounds array nesting.
func (d *decoder) value(t ValueType, depth int) (any, error) {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		v, err := d.u8()
		return int8(v), err
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		v, err := d.u16()
		return int16(v), err
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		v, err := d.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case TypeBool:
		at := d.off
		v, err := d.u8()
		if err != nil {
			return nil, err
		}
		if v > 1 {
			return nil, d.fail(at, "bool value %d is neither 0 nor 1", v)
		}
		return v == 1, nil
	case TypeString:
		return d.str()
	case TypeArray:
		return d.array(depth)
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		v, err := d.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	}
	return nil, d.fail(d.off-4, "unknown value type %d", uint32(t))
}

// maxArrayDepth bounds arrays of arrays; real files nest at most once.
const maxArrayDepth = 8

func (d *decoder) array(depth int) (Array, error) {
	at := d.off
	if depth >= maxArrayDepth {
		return Array{}, d.fail(at, "arrays nested deeper than %d", maxArrayDepth)
	}
	et, err := d.u32()
	if err != nil {
		return Array{}, err
	}
	t := ValueType(et)
	if t > TypeFloat64 {
		return Array{}, d.fail(at, "unknown array element type %d", et)
	}
	n, err := d.count(t.minSize())
	if err != nil {
		return Array{}, err
	}
	if sz := t.size(); sz > 0 {
		raw, err := d.take(n * sz)
		if err != nil {
			return Array{}, err
		}
		v, err := decodeScalars(t, raw, n)
		if err != nil {
			return Array{}, d.fail(at, "%v", err)
		}
		return Array{Type: t, Values: v}, nil
	}
	switch t {
	case TypeString:
		v := make([]string, n)
		for i := range v {
			if v[i], err = d.str(); err != nil {
				return Array{}, err
			}
		}
		return Array{Type: t, Values: v}, nil
	default: // TypeArray
		v := make([]Array, n)
		for i := range v {
			if v[i], err = d.array(depth + 1); err != nil {
				return Array{}, err
			}
		}
		return Array{Type: t, Values: v}, nil
	}
}

// decodeScalars turns n packed little-endian scalars of type t into a slice.
func decodeScalars(t ValueType, raw []byte, n int) (any, error) {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return append([]uint8(nil), raw...), nil
	case TypeInt8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(raw[i])
		}
		return v, nil
	case TypeBool:
		v := make([]bool, n)
		for i := range v {
			if raw[i] > 1 {
				return nil, fmt.Errorf("bool element %d is %d, neither 0 nor 1", i, raw[i])
			}
			v[i] = raw[i] == 1
		}
		return v, nil
	case TypeUint16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = le.Uint16(raw[2*i:])
		}
		return v, nil
	case TypeInt16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(le.Uint16(raw[2*i:]))
		}
		return v, nil
	case TypeUint32:
		v := make([]uint32, n)
		for i := range v {
			v[i] = le.Uint32(raw[4*i:])
		}
		return v, nil
	case TypeInt32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(raw[4*i:]))
		}
		return v, nil
	case TypeFloat32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return v, nil
	case TypeUint64:
		v := make([]uint64, n)
		for i := range v {
			v[i] = le.Uint64(raw[8*i:])
		}
		return v, nil
	case TypeInt64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(raw[8*i:]))
		}
		return v, nil
	case TypeFloat64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown scalar type %v", t)
}

// validName reports whether s is usable as a key or tensor name.
func validName(s string) bool {
	return len(s) > 0 && utf8.ValidString(s)
}
