package engine

import (
	"encoding/binary"
	"fmt"
	"math"

	"strata/gguf"
)

// A NonFiniteError reports a NaN or infinite weight: an element of a norm
// (or other one-row float tensor), or a scale of a quantized block.
type NonFiniteError struct {
	Tensor string
	Index  int    // the element, or the block when Scale is set
	Scale  string // the block's scale ("d", "dmin"); "" for an element
	Value  float64
}

func (e *NonFiniteError) Error() string {
	if e.Scale == "" {
		return fmt.Sprintf("engine: tensor %q: element %d is %v", e.Tensor, e.Index, e.Value)
	}
	return fmt.Sprintf("engine: tensor %q: block %d has scale %s = %v", e.Tensor, e.Index, e.Scale, e.Value)
}

// blockScale is an f16 scale of a quantized block: its name and offset.
type blockScale struct {
	name string
	at   int
}

// blockScales are the f16 scales each quantized block holds, as ggml lays
// them out (block_q4_K: d, dmin, scales, qs; block_q6_K: ql, qh, scales,
// d; …).
var blockScales = map[gguf.TensorType][]blockScale{
	gguf.Q4_0:   {{"d", 0}},
	gguf.Q4_1:   {{"d", 0}, {"m", 2}},
	gguf.Q5_0:   {{"d", 0}},
	gguf.Q5_1:   {{"d", 0}, {"m", 2}},
	gguf.Q8_0:   {{"d", 0}},
	gguf.Q8_1:   {{"d", 0}, {"s", 2}},
	gguf.Q2_K:   {{"d", 80}, {"dmin", 82}},
	gguf.Q3_K:   {{"d", 108}},
	gguf.Q4_K:   {{"d", 0}, {"dmin", 2}},
	gguf.Q5_K:   {{"d", 0}, {"dmin", 2}},
	gguf.Q6_K:   {{"d", 208}},
	gguf.IQ4_NL: {{"d", 0}},
	gguf.IQ4_XS: {{"d", 0}},
}

// checkFinite refuses NaN and infinite weights where finding them is
// cheap: every element of a one-row float tensor (the norms), and the
// scales of every block of a quantized one (two bytes a block). The
// elements of float matrices are not read.
func checkFinite(t *gguf.TensorInfo, data []byte) error {
	le := binary.LittleEndian
	if scales, ok := blockScales[t.Type]; ok {
		size := t.Type.TypeSize()
		for b := 0; (b+1)*size <= len(data); b++ {
			blk := data[b*size:]
			for _, s := range scales {
				if h := le.Uint16(blk[s.at:]); h&0x7c00 == 0x7c00 {
					return &NonFiniteError{Tensor: t.Name, Index: b, Scale: s.name, Value: halfSpecial(h)}
				}
			}
		}
		return nil
	}
	if t.Elements() != t.Dims[0] { // more than one row
		return nil
	}
	for i := range int(t.Dims[0]) {
		var x float64
		switch t.Type {
		case gguf.F32:
			x = float64(math.Float32frombits(le.Uint32(data[4*i:])))
		case gguf.F16:
			h := le.Uint16(data[2*i:])
			if h&0x7c00 != 0x7c00 {
				continue
			}
			x = halfSpecial(h)
		case gguf.BF16:
			x = float64(math.Float32frombits(uint32(le.Uint16(data[2*i:])) << 16))
		default:
			return nil
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &NonFiniteError{Tensor: t.Name, Index: i, Value: x}
		}
	}
	return nil
}

// halfSpecial is the value of an f16 whose exponent bits are all set:
// ±Inf, or NaN.
func halfSpecial(h uint16) float64 {
	switch {
	case h&0x3ff != 0:
		return math.NaN()
	case h&0x8000 != 0:
		return math.Inf(-1)
	}
	return math.Inf(1)
}
