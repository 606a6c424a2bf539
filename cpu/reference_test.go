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
		case gguf.Q8_0, gguf.Q4_0:
			put(b, randomHalf(rng, 1e-3, 2e-2))
		case gguf.Q4_K, gguf.Q5_K:
			put(b, randomHalf(rng, 1e-4, 2e-3))
			put(b[2:], randomHalf(rng, 1e-4, 2e-3))
		case gguf.Q6_K:
			put(b[208:], randomHalf(rng, 1e-4, 2e-3))
		}
	}
	return row
}
