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
	gguf.F32:    dequantizeF32,
	gguf.F16:    dequantizeF16,
	gguf.BF16:   dequantizeBF16,
	gguf.Q4_0:   dequantizeQ4_0,
	gguf.Q4_1:   dequantizeQ4_1,
	gguf.Q5_0:   dequantizeQ5_0,
	gguf.Q5_1:   dequantizeQ5_1,
	gguf.Q8_0:   dequantizeQ8_0,
	gguf.Q2_K:   dequantizeQ2K,
	gguf.Q3_K:   dequantizeQ3K,
	gguf.Q4_K:   dequantizeQ4K,
	gguf.Q5_K:   dequantizeQ5K,
	gguf.Q6_K:   dequantizeQ6K,
	gguf.IQ4_NL: dequantizeIQ4NL,
	gguf.IQ4_XS: dequantizeIQ4XS,
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

// The products and sums below are rounded to float32 one at a time, as
// ggml's dequantize_row_* and gguf-py's quants.py compute them: a sum
// whose product is not exact keeps an explicit float32 conversion, which
// stops Go from fusing the two into one multiply-add (as it may on arm64).

// Q4_1: f16 d, f16 m, then 16 bytes of nibbles laid out as Q4_0's;
// value = d × q + m.
func dequantizeQ4_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*20 : b*20+20]
		y := dst[b*32 : b*32+32]
		d := HalfToFloat(le16(blk))
		m := HalfToFloat(le16(blk[2:]))
		qs := blk[4:20]
		for j := range 16 {
			y[j] = float32(d*float32(qs[j]&0xf)) + m
			y[j+16] = float32(d*float32(qs[j]>>4)) + m
		}
	}
}

// Q5_0: f16 d, 4 bytes qh (bit j of the little-endian word is the fifth
// bit of element j), then 16 bytes of nibbles as Q4_0's;
// value = d × (q − 16).
func dequantizeQ5_0(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*22 : b*22+22]
		y := dst[b*32 : b*32+32]
		d := HalfToFloat(le16(blk))
		qh := le32(blk[2:])
		qs := blk[6:22]
		for j := range 16 {
			lo := int32(qs[j]&0xf) | int32(qh>>uint(j)&1)<<4
			hi := int32(qs[j]>>4) | int32(qh>>uint(j+16)&1)<<4
			y[j] = d * float32(lo-16)
			y[j+16] = d * float32(hi-16)
		}
	}
}

// Q5_1: f16 d, f16 m, then qh and nibbles as Q5_0's; value = d × q + m.
func dequantizeQ5_1(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*24 : b*24+24]
		y := dst[b*32 : b*32+32]
		d := HalfToFloat(le16(blk))
		m := HalfToFloat(le16(blk[2:]))
		qh := le32(blk[4:])
		qs := blk[8:24]
		for j := range 16 {
			lo := qs[j]&0xf | byte(qh>>uint(j)&1)<<4
			hi := qs[j]>>4 | byte(qh>>uint(j+16)&1)<<4
			y[j] = float32(d*float32(lo)) + m
			y[j+16] = float32(d*float32(hi)) + m
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

// Q2_K: a super-block of 256 in 16 sub-blocks of 16: 16 bytes of scales
// (low nibble the scale, high nibble the min, of sub-block i), 64 bytes
// of 2-bit quants, f16 d, f16 dmin. Each half of 128 values uses 32
// bytes: bits 2j..2j+1 of byte l are value 32j + l of the half, whose
// sub-block is 8·half + 2j + l/16. value = d·scale × q − dmin·min.
func dequantizeQ2K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/256; b++ {
		blk := src[b*84 : b*84+84]
		y := dst[b*256 : b*256+256]
		scales := blk[0:16]
		d := HalfToFloat(le16(blk[80:]))
		dmin := HalfToFloat(le16(blk[82:]))
		for n := range 2 {
			q := blk[16+32*n : 16+32*n+32]
			for j := range 4 {
				shift := uint(2 * j)
				for h := range 2 {
					sc := scales[8*n+2*j+h]
					dl, ml := d*float32(sc&0xf), dmin*float32(sc>>4)
					out := y[128*n+32*j+16*h : 128*n+32*j+16*h+16]
					for l := range 16 {
						out[l] = float32(dl*float32(q[16*h+l]>>shift&3)) - ml
					}
				}
			}
		}
	}
}

// scaleQ3K unpacks the j-th of the 16 signed 6-bit scales of a Q3_K block
// from its 12 bytes: the low four bits are nibble j/8 of byte j%8, the
// high two bits are bits 2(j/4) of byte 8 + j%4.
func scaleQ3K(sc []byte, j int) int32 {
	low := sc[j%8] >> uint(4*(j/8)) & 0xf
	high := sc[8+j%4] >> uint(2*(j/4)) & 3
	return int32(low|high<<4) - 32
}

// Q3_K: 32 bytes hmask, 64 bytes of 2-bit quants laid out as Q2_K's, 12
// bytes of scales, f16 d. Value 32j + l of half n has the low bits of
// Q2_K's and its high bit in bit 4n + j of hmask[l]; a clear high bit
// takes 4 off: value = d·scale × (q − 4·(1 − h)).
func dequantizeQ3K(dst []float32, src []byte) {
	for b := 0; b < len(dst)/256; b++ {
		blk := src[b*110 : b*110+110]
		y := dst[b*256 : b*256+256]
		hm := blk[0:32]
		scales := blk[96:108]
		d := HalfToFloat(le16(blk[108:]))
		for n := range 2 {
			q := blk[32+32*n : 32+32*n+32]
			for j := range 4 {
				shift, mask := uint(2*j), byte(1)<<uint(4*n+j)
				for h := range 2 {
					dl := d * float32(scaleQ3K(scales, 8*n+2*j+h))
					out := y[128*n+32*j+16*h : 128*n+32*j+16*h+16]
					for l := range 16 {
						v := int32(q[16*h+l] >> shift & 3)
						if hm[16*h+l]&mask == 0 {
							v -= 4
						}
						out[l] = dl * float32(v)
					}
				}
			}
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

// iq4nlValues are the 16 values an IQ4_NL or IQ4_XS nibble stands for
// (ggml's kvalues_iq4nl), before the block's scale.
var iq4nlValues = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// IQ4_NL: f16 d, then 16 bytes of nibbles laid out as Q4_0's;
// value = d × iq4nlValues[q].
func dequantizeIQ4NL(dst []float32, src []byte) {
	for b := 0; b < len(dst)/32; b++ {
		blk := src[b*18 : b*18+18]
		y := dst[b*32 : b*32+32]
		d := HalfToFloat(le16(blk))
		qs := blk[2:18]
		for j := range 16 {
			y[j] = d * float32(iq4nlValues[qs[j]&0xf])
			y[j+16] = d * float32(iq4nlValues[qs[j]>>4])
		}
	}
}

// IQ4_XS: a super-block of 256 in 8 sub-blocks of 32: f16 d, 16 bits
// scales_h (bits 2i..2i+1: the high bits of sub-block i's scale), 4 bytes
// scales_l (nibble i%2 of byte i/2: the low bits), then 16 bytes of
// nibbles per sub-block laid out as IQ4_NL's.
// value = d·(scale − 32) × iq4nlValues[q].
func dequantizeIQ4XS(dst []float32, src []byte) {
	for b := 0; b < len(dst)/256; b++ {
		blk := src[b*136 : b*136+136]
		d := HalfToFloat(le16(blk))
		sh := le16(blk[2:])
		sl := blk[4:8]
		for ib := range 8 {
			ls := int32(sl[ib/2]>>uint(4*(ib%2))&0xf) | int32(sh>>uint(2*ib)&3)<<4
			dl := d * float32(ls-32)
			qs := blk[8+16*ib : 8+16*ib+16]
			y := dst[b*256+32*ib : b*256+32*ib+32]
			for j := range 16 {
				y[j] = dl * float32(iq4nlValues[qs[j]&0xf])
				y[j+16] = dl * float32(iq4nlValues[qs[j]>>4])
			}
		}
	}
}
