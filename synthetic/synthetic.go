// Package synthetic makes random weights of any tensor type that look
// like a trained model's to the kernels: plain types of standard deviation
// 1/sqrt(cols), quantized types of uniform random quants with block
// scales chosen to give roughly that spread (the K formats' come out up to
// twice it). Benchmarks time kernels on them and package testmodel builds
// whole models of them.
package synthetic

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"strata/format"
	"strata/gguf"
)

// Weights returns rows × cols random weights of type typ, of standard
// deviation roughly 1/sqrt(cols) (see the package comment). cols must be
// whole blocks of typ.
func Weights(rng *rand.Rand, typ gguf.TensorType, cols, rows int) ([]byte, error) {
	return randomTensor(rng, typ, cols, rows, false)
}

// Norms returns a row of cols random norm weights of type typ, uniform
// in [0.5, 1.5).
func Norms(rng *rand.Rand, typ gguf.TensorType, cols int) ([]byte, error) {
	return randomTensor(rng, typ, cols, 1, true)
}

// randomTensor returns rows × cols random values of type typ: weights of
// standard deviation about 1/sqrt(cols), or norms near 1.
func randomTensor(rng *rand.Rand, typ gguf.TensorType, cols, rows int, norm bool) ([]byte, error) {
	if !typ.Known() {
		return nil, fmt.Errorf("synthetic: %v is not a ggml type", typ)
	}
	if cols%typ.BlockSize() != 0 {
		return nil, fmt.Errorf("synthetic: %d columns are not whole %v blocks", cols, typ)
	}
	n := cols * rows
	scale := 1 / math.Sqrt(float64(cols))
	data := make([]byte, n/typ.BlockSize()*typ.TypeSize())
	le := binary.LittleEndian
	half := func(x float64) uint16 { return format.FloatToHalf(float32(x)) }
	value := func() float64 {
		if norm {
			return 0.5 + rng.Float64()
		}
		return rng.NormFloat64() * scale
	}
	switch typ {
	case gguf.F32:
		for i := range n {
			le.PutUint32(data[4*i:], math.Float32bits(float32(value())))
		}
		return data, nil
	case gguf.F16:
		for i := range n {
			le.PutUint16(data[2*i:], half(value()))
		}
		return data, nil
	case gguf.BF16:
		for i := range n {
			le.PutUint16(data[2*i:], uint16(math.Float32bits(float32(value()))>>16))
		}
		return data, nil
	}
	for i := 0; i < len(data); i += 8 {
		var b [8]byte
		le.PutUint64(b[:], rng.Uint64())
		copy(data[i:], b[:])
	}
	// Random quants are uniform; choose the scales so that values have
	// about the standard deviation of the plain types.
	ts := typ.TypeSize()
	for b := 0; b < len(data)/ts; b++ {
		blk := data[b*ts : (b+1)*ts]
		jitter := 0.75 + 0.5*rng.Float64()
		switch typ {
		case gguf.Q8_0:
			le.PutUint16(blk, half(scale*jitter/74)) // q uniform in [-128, 127]
		case gguf.Q4_0:
			le.PutUint16(blk, half(scale*jitter/4.6)) // q−8 uniform in [-8, 7]
		case gguf.Q4_1:
			// value = d·q + m with q uniform in [0, 15]: m centres it.
			d := scale * jitter / 4.6
			le.PutUint16(blk, half(d))
			le.PutUint16(blk[2:], half(-7.5*d))
		case gguf.Q5_0:
			le.PutUint16(blk, half(scale*jitter/9.2)) // q−16 uniform in [-16, 15]
		case gguf.Q5_1:
			d := scale * jitter / 9.2
			le.PutUint16(blk, half(d))
			le.PutUint16(blk[2:], half(-15.5*d))
		case gguf.IQ4_NL:
			le.PutUint16(blk, half(scale*jitter/66)) // the 16 values' spread
		case gguf.Q2_K:
			// value = d·sc·q − dmin·m with 4-bit sc, m and q in [0, 3]:
			// dmin = 1.5·d centres it.
			d := scale * jitter / 13.9
			le.PutUint16(blk[80:], half(d))
			le.PutUint16(blk[82:], half(1.5*d))
		case gguf.Q3_K:
			// value = d·(sc − 32)·q with 6-bit sc and q in [-4, 3].
			le.PutUint16(blk[108:], half(scale*jitter/(18.5*2.3)))
		case gguf.IQ4_XS:
			le.PutUint16(blk, half(scale*jitter/(18.5*66)))
		case gguf.Q4_K:
			// value = d·sc·q − dmin·m with 6-bit sc, m and q in [0, 15].
			le.PutUint16(blk, half(scale*jitter/(32*4.6)))
			le.PutUint16(blk[2:], half(scale*jitter/(32*8)))
		case gguf.Q5_K:
			le.PutUint16(blk, half(scale*jitter/(32*9.2)))
			le.PutUint16(blk[2:], half(scale*jitter/(32*16)))
		case gguf.Q6_K:
			le.PutUint16(blk[208:], half(scale*jitter/(64*18.5)))
		default:
			// Other types keep their random bytes: enough to test that
			// they are refused or parsed.
		}
	}
	return data, nil
}
