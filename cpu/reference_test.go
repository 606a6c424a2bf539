package cpu

import (
	"encoding/binary"
	"math"
	"math/rand/v2"

	"strata/format"
	"strata/gguf"
)

// This file holds plain scalar references: each decodes one element at a
// time, in float64, straight from the block layout, sharing no code with
// the kernels.

func refHalf(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	if e == 0 {
		return sign * m / 1024 * math.Pow(2, -14)
	}
	return sign * (1 + m/1024) * math.Pow(2, float64(e-15))
}

func refBF16(h uint16) float64 {
	return float64(math.Float32frombits(uint32(h) << 16))
}

func refScaleMin(scales []byte, j int) (float64, float64) {
	var sc, m byte
	if j < 4 {
		sc, m = scales[j]&63, scales[j+4]&63
	} else {
		sc = scales[j+4]&15 | (scales[j-4]>>6)<<4
		m = scales[j+4]>>4 | (scales[j]>>6)<<4
	}
	return float64(sc), float64(m)
}

// refIQ4 is ggml's kvalues_iq4nl: the values of IQ4_NL and IQ4_XS nibbles.
var refIQ4 = [16]float64{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// refElement returns element i of a row of type t.
func refElement(t gguf.TensorType, row []byte, i int) float64 {
	u16 := func(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
	switch t {
	case gguf.F32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:])))
	case gguf.F16:
		return refHalf(u16(row[2*i:]))
	case gguf.BF16:
		return refBF16(u16(row[2*i:]))
	case gguf.Q8_0:
		blk := row[i/32*34:]
		return refHalf(u16(blk)) * float64(int8(blk[2+i%32]))
	case gguf.Q4_0:
		blk := row[i/32*18:]
		l := i % 32
		q := blk[2+l%16]
		if l >= 16 {
			q >>= 4
		}
		return refHalf(u16(blk)) * float64(int(q&15)-8)
	case gguf.Q4_1:
		blk := row[i/32*20:]
		l := i % 32
		q := blk[4+l%16]
		if l >= 16 {
			q >>= 4
		}
		return refHalf(u16(blk))*float64(q&15) + refHalf(u16(blk[2:]))
	case gguf.Q5_0, gguf.Q5_1:
		size, off := 22, 2
		if t == gguf.Q5_1 {
			size, off = 24, 4
		}
		blk := row[i/32*size:]
		l := i % 32
		q := int(blk[off+4+l%16])
		if l >= 16 {
			q >>= 4
		}
		q &= 15
		if blk[off+l/8]>>(l%8)&1 == 1 {
			q += 16
		}
		if t == gguf.Q5_0 {
			return refHalf(u16(blk)) * float64(q-16)
		}
		return refHalf(u16(blk))*float64(q) + refHalf(u16(blk[2:]))
	case gguf.Q2_K, gguf.Q3_K:
		// Value k of a super-block: half k/128, quarter (bit pair) k%128/32,
		// byte k%32 of the half's 32 bytes of quants; sub-block k/16.
		size, qoff := 84, 16
		if t == gguf.Q3_K {
			size, qoff = 110, 32
		}
		blk := row[i/256*size:]
		k := i % 256
		h, quarter, l := k/128, k%128/32, k%32
		q := int(blk[qoff+32*h+l]>>(2*quarter)) & 3
		sub := k / 16
		if t == gguf.Q2_K {
			sc := blk[sub]
			return refHalf(u16(blk[80:]))*float64(sc&15)*float64(q) - refHalf(u16(blk[82:]))*float64(sc>>4)
		}
		if blk[l]>>(4*h+quarter)&1 == 0 {
			q -= 4
		}
		var six int
		if sub < 8 {
			six = int(blk[96+sub] & 15)
		} else {
			six = int(blk[96+sub-8] >> 4)
		}
		six |= int(blk[96+8+sub%4]>>(2*(sub/4))&3) << 4
		return refHalf(u16(blk[108:])) * float64(six-32) * float64(q)
	case gguf.IQ4_NL:
		blk := row[i/32*18:]
		l := i % 32
		q := blk[2+l%16]
		if l >= 16 {
			q >>= 4
		}
		return refHalf(u16(blk)) * refIQ4[q&15]
	case gguf.IQ4_XS:
		blk := row[i/256*136:]
		k := i % 256
		sub, l := k/32, k%32
		q := blk[8+16*sub+l%16]
		if l >= 16 {
			q >>= 4
		}
		low := int(blk[4+sub/2]>>(4*(sub%2))) & 15
		high := int(u16(blk[2:])>>(2*sub)) & 3
		return refHalf(u16(blk)) * float64(low|high<<4-32) * refIQ4[q&15]
	case gguf.Q4_K, gguf.Q5_K:
		size := 144
		if t == gguf.Q5_K {
			size = 176
		}
		blk := row[i/256*size:]
		k := i % 256
		sub, l := k/32, k%32
		qs := blk[16:]
		if t == gguf.Q5_K {
			qs = blk[48:]
		}
		q := int(qs[sub/2*32+l])
		if sub%2 == 1 {
			q >>= 4
		}
		q &= 15
		if t == gguf.Q5_K && blk[16+l]>>sub&1 == 1 {
			q += 16
		}
		sc, m := refScaleMin(blk[4:16], sub)
		return refHalf(u16(blk))*sc*float64(q) - refHalf(u16(blk[2:]))*m
	case gguf.Q6_K:
		blk := row[i/256*210:]
		k := i % 256
		h, quarter, l := k/128, k%128/32, k%32
		lowByte := blk[64*h+l+32*(quarter%2)]
		low := int(lowByte & 15)
		if quarter >= 2 {
			low = int(lowByte >> 4)
		}
		high := int(blk[128+32*h+l]>>(2*quarter)) & 3
		sc := float64(int8(blk[192+8*h+l/16+2*quarter]))
		return refHalf(u16(blk[208:])) * sc * float64(low|high<<4-32)
	}
	panic("no reference for " + t.String())
}

// randomHalf returns an f16 with magnitude in [lo, hi).
func randomHalf(rng *rand.Rand, lo, hi float64) uint16 {
	for {
		v := lo + rng.Float64()*(hi-lo)
		h := format.FloatToHalf(float32(v))
		if refHalf(h) > 0 {
			return h
		}
	}
}

// randomRow fills a row of cols elements of type t with random blocks
// whose scales are in the range real models use.
func randomRow(rng *rand.Rand, t gguf.TensorType, cols int) []byte {
	row := make([]byte, t.RowSize(cols))
	for i := range row {
		row[i] = byte(rng.Uint32())
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	put := func(b []byte, h uint16) { binary.LittleEndian.PutUint16(b, h) }
	for blk := 0; blk < cols/bs; blk++ {
		b := row[blk*ts : (blk+1)*ts]
		switch t {
		case gguf.F32:
			binary.LittleEndian.PutUint32(b, math.Float32bits(float32(rng.NormFloat64())))
		case gguf.F16:
			put(b, format.FloatToHalf(float32(rng.NormFloat64())))
		case gguf.BF16:
			put(b, uint16(math.Float32bits(float32(rng.NormFloat64()))>>16))
		case gguf.Q8_0, gguf.Q4_0, gguf.Q5_0, gguf.IQ4_NL:
			put(b, randomHalf(rng, 1e-3, 2e-2))
		case gguf.Q4_1, gguf.Q5_1:
			put(b, randomHalf(rng, 1e-3, 2e-2))
			m := randomHalf(rng, 1e-3, 0.2)
			if rng.IntN(2) == 0 {
				m |= 0x8000
			}
			put(b[2:], m)
		case gguf.Q2_K:
			put(b[80:], randomHalf(rng, 1e-4, 2e-3))
			put(b[82:], randomHalf(rng, 1e-4, 2e-3))
		case gguf.Q3_K:
			put(b[108:], randomHalf(rng, 1e-4, 2e-3))
		case gguf.IQ4_XS:
			put(b, randomHalf(rng, 1e-5, 2e-4))
		case gguf.Q4_K, gguf.Q5_K:
			put(b, randomHalf(rng, 1e-4, 2e-3))
			put(b[2:], randomHalf(rng, 1e-4, 2e-3))
		case gguf.Q6_K:
			put(b[208:], randomHalf(rng, 1e-4, 2e-3))
		}
	}
	return row
}
