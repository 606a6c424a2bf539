package format

import "math"

// HalfToFloat converts an IEEE 754 binary16 value to float32, exactly.
func HalfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // zero
		return math.Float32frombits(sign)
	}
	// Subnormal: shift the mantissa up until its leading one is implicit.
	e := uint32(113)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// BFloatToFloat converts a bfloat16 value to float32, exactly.
func BFloatToFloat(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
