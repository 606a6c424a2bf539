package format

import (
	"fmt"
	"math"
	"slices"

	"strata/gguf"
)

// dequantizers are the reference decoders, by type. Each writes the
// len(dst) values encoded by src, a whole number of the type's blocks.
var dequantizers = map[gguf.TensorType]func(dst []float32, src []byte){
	gguf.F32:  dequantizeF32,
	gguf.F16:  dequantizeF16,
	gguf.BF16: dequantizeBF16,
	gguf.Q4_0: dequantizeQ4_0,
	gguf.Q8_0: dequantizeQ8_0,
	gguf.Q4_K: dequantizeQ4K,
	gguf.Q5_K: dequantizeQ5K,
	gguf.Q6_K: dequantizeQ6K,
}

// Types lists the tensor types this package decodes, in ggml's order.
func Types() []gguf.TensorType {
	t := make([]gguf.TensorType, 0, len(dequantizers))
	for typ := range dequantizers {
		t = append(t, typ)
	}
	slices.Sort(t)
	return t
}

// Dequantizer returns the reference decoder of type t, if there is one:
// it writes the len(dst) values encoded by src, which must hold exactly
// the whole blocks that encode them. Its values are every backend's.
func Dequantizer(t gguf.TensorType) (func(dst []float32, src []byte), bool) {
	d, ok := dequantizers[t]
	return d, ok
}

// Dequantize writes the len(dst) values of a row of type t held in src.
// len(dst) must be a multiple of t's block size and src must hold exactly
// the blocks that encode them.
func Dequantize(dst []float32, src []byte, t gguf.TensorType) error {
	d, ok := dequantizers[t]
	if !ok {
		return fmt.Errorf("format: %v: no dequantizer", t)
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	if len(dst)%bs != 0 || len(src) != len(dst)/bs*ts {
		return fmt.Errorf("format: %v: %d values from %d bytes: not whole blocks", t, len(dst), len(src))
	}
	d(dst, src)
	return nil
}

func dequantizeF32(dst []float32, src []byte) {
	for i := range dst {
		b := src[4*i : 4*i+4]
		dst[i] = math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	}
}

func dequantizeF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = HalfToFloat(le16(src[2*i:]))
	}
}

func dequantizeBF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = BFloatToFloat(le16(src[2*i:]))
	}
}

// Q4_0: f16 d, then 16 bytes: element j is the low nibble of byte j and
// element j+16 its high nibble; value = d × (q − 8).
func dequantizeQ4_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*18 : b*18+18]
		y := dst[b*32 : b*32+32]
		d := HalfToFloat(le16(blk))
		qs := blk[2:18]
		for j := range 16 {
			y[j] = d * float32(int32(qs[j]&0xf)-8)
			y[j+16] = d * float32(int32(qs[j]>>4)-8)
		}
	}
}

// Q8_0: f16 d, then 32 int8; value = d × q.
func dequantizeQ8_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*34 : b*34+34]
		y := dst[b*32 : b*32+32]
		d := HalfToFloat(le16(blk))
		qs := blk[2:34]
		for j := range 32 {
			y[j] = d * float32(int8(qs[j]))
		}
	}
}

// scaleMinK4 unpacks the j-th 6-bit scale and min of a Q4_K or Q5_K block
// from its 12 packed bytes.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// Q4_K: a super-block of 256 in 8 sub-blocks of 32: f16 d, f16 dmin,
// 12 bytes of 6-bit scales and mins, 128 bytes of nibbles. Sub-block pair
// (2i, 2i+1) shares 32 bytes: low nibbles then high nibbles.
// value = d·scale × q − dmin·min.
func dequantizeQ4K(dst []float32, src []byte) {
	var lo, hi [16]float32 // the 16 values a nibble can stand for, per sub-block
	for b := 0; b < len(dst)/256; b++ {
		blk := src[b*144 : b*144+144]
		y := dst[b*256 : b*256+256]
		d := HalfToFloat(le16(blk))
		dmin := HalfToFloat(le16(blk[2:]))
		scales := blk[4:16]
		qs := blk[16:144]
		for i := range 4 {
			sc, m := scaleMinK4(2*i, scales)
			d1, m1 := d*float32(sc), dmin*float32(m)
			sc, m = scaleMinK4(2*i+1, scales)
			d2, m2 := d*float32(sc), dmin*float32(m)
			for v := range 16 {
				lo[v] = d1*float32(v) - m1
				hi[v] = d2*float32(v) - m2
			}
			q := qs[32*i : 32*i+32]
			yl := y[64*i : 64*i+32]
			yh := y[64*i+32 : 64*i+64]
			for l := range 32 {
				yl[l] = lo[q[l]&0xf]
				yh[l] = hi[q[l]>>4]
			}
		}
	}
}

// Q5_K: as Q4_K with a fifth bit per element in 32 bytes qh: bit 2i of
// qh[l] for element l of sub-block 2i, bit 2i+1 for sub-block 2i+1.
func dequantizeQ5K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/256; b++ {
		blk := src[b*176 : b*176+176]
		y := dst[b*256 : b*256+256]
		d := HalfToFloat(le16(blk))
		dmin := HalfToFloat(le16(blk[2:]))
		scales := blk[4:16]
		qh := blk[16:48]
		qs := blk[48:176]
		for i := range 4 {
			sc, m := scaleMinK4(2*i, scales)
			d1, m1 := d*float32(sc), dmin*float32(m)
			sc, m = scaleMinK4(2*i+1, scales)
			d2, m2 := d*float32(sc), dmin*float32(m)
			q := qs[32*i : 32*i+32]
			lo := y[64*i : 64*i+32]
			hi := y[64*i+32 : 64*i+64]
			s1, s2 := uint(2*i), uint(2*i+1)
			for l := range 32 {
				lo[l] = d1*float32(q[l]&0xf|(qh[l]>>s1&1)<<4) - m1
				hi[l] = d2*float32(q[l]>>4|(qh[l]>>s2&1)<<4) - m2
			}
		}
	}
}

// Q6_K: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8
// scales, f16 d. Each half of 128 elements uses 64 bytes of ql, 32 of qh
// and 8 scales (one per 16 elements); value = d × scale × (q − 32).
func dequantizeQ6K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/256; b++ {
		blk := src[b*210 : b*210+210]
		d := HalfToFloat(le16(blk[208:]))
		for h := range 2 {
			y := dst[b*256+128*h : b*256+128*h+128]
			ql := blk[64*h : 64*h+64]
			qh := blk[128+32*h : 128+32*h+32]
			sc := blk[192+8*h : 192+8*h+8]
			// The scale of values l and l+16 of each quarter, times d, as
			// d * scale * q rounds them: (d*scale)*q.
			var ds [8]float32
			for i := range ds {
				ds[i] = d * float32(int8(sc[i]))
			}
			for half := range 2 {
				s0, s1, s2, s3 := ds[half], ds[half+2], ds[half+4], ds[half+6]
				for l := 16 * half; l < 16*half+16; l++ {
					q1 := int32(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
					q2 := int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
					q3 := int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
					q4 := int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
					y[l] = s0 * float32(q1)
					y[l+32] = s1 * float32(q2)
					y[l+64] = s2 * float32(q3)
					y[l+96] = s3 * float32(q4)
				}
			}
		}
	}
}
