package cpu

import "math"

// The exponential of the softmax and of SwiGLU, in float64, defined here
// step by step so that the assembly kernels compute the same bits as this
// pure-Go twin (math.Exp's algorithm is its own, and differs between
// ports):
//
//   - y < expLow gives 0, y > expHigh gives +Inf and NaN gives NaN. Both
//     bounds change nothing the callers see: e^−700 is below what a sum
//     of at least 1 (the softmax's) or a float32 (its weights) resolves,
//     and e^200 makes x/(1+e^y) round to a float32 zero for any float32 x.
//   - Otherwise n = round(y·log2 e) (ties to even) and r = y − n·ln 2 in
//     two fused steps (ln 2 split in a high and a low part), |r| ≤ 0.347.
//   - e^r is its Taylor polynomial of degree 13 in Horner's form, each
//     step one fused multiply-add (math.FMA, VFMADD), then scaled by 2^n
//     exactly (the result is normal over the domain).
//
// The polynomial's truncation is below 2^−57 of the result and its
// roundings a few units in the last place: exp64 is within 2^−50 of e^y,
// as TestExp64Accuracy checks against math.Exp.

const (
	expLow  = -700.0
	expHigh = 200.0
	log2E   = 0x1.71547652b82fep+0  // log2 e
	ln2Hi   = 0x1.62e42fefa39efp-1  // ln 2, rounded
	ln2Lo   = 0x1.abc9e3b39803fp-56 // ln 2 − ln2Hi
)

// expTaylor are 1/k! for k = 13 down to 0.
var expTaylor = [14]float64{
	0x1.6124613a86d09p-33, 0x1.1eed8eff8d898p-29, 0x1.ae64567f544e4p-26, 0x1.27e4fb7789f5cp-22,
	0x1.71de3a556c734p-19, 0x1.a01a01a01a01ap-16, 0x1.a01a01a01a01ap-13, 0x1.6c16c16c16c17p-10,
	0x1.1111111111111p-7, 0x1.5555555555555p-5, 0x1.5555555555555p-3, 0x1p-1, 1, 1,
}

// exp64 is e^y as defined above.
func exp64(y float64) float64 {
	switch {
	case y != y:
		return y
	case y < expLow:
		return 0
	case y > expHigh:
		return math.Inf(1)
	}
	n := math.RoundToEven(y * log2E)
	r := math.FMA(-n, ln2Hi, y)
	r = math.FMA(-n, ln2Lo, r)
	p := expTaylor[0]
	for _, c := range expTaylor[1:] {
		p = math.FMA(p, r, c)
	}
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52) // 2^n, n in [−1010, 289]
}

// siluMul sets out[i] = silu(gate[i])·up[i]: gate[i]/(1 + e^−gate[i]) in
// float64, rounded to float32, times up[i] in float32.
func siluMul(out, gate, up []float32) {
	for i := range out {
		x := float64(gate[i])
		out[i] = float32(x/(1+exp64(-x))) * up[i]
	}
}

// softmaxExp sets scores[p] = float32(e_p) for e_p = exp64(scores[p] −
// best), the difference in float32, and returns the sum of the e_p in
// float64, added in order of p.
func softmaxExp(scores []float32, best float32) float64 { return softmaxExpTo(0, scores, best) }

// softmaxExpTo is softmaxExp adding the e_p to sum.
func softmaxExpTo(sum float64, scores []float32, best float32) float64 {
	for p, s := range scores {
		e := exp64(float64(s - best))
		scores[p] = float32(e)
		sum += e
	}
	return sum
}

// softmaxExps returns the softmax exponential of variant v: its assembly,
// or the twin.
func softmaxExps(v kernelVariant) func(scores []float32, best float32) float64 {
	if f := asmSoftmaxExp(v); f != nil {
		return f
	}
	return softmaxExp
}

// silus returns the SwiGLU product of variant v: its assembly, or the twin.
func silus(v kernelVariant) func(out, gate, up []float32) {
	if f := asmSilu(v); f != nil {
		return f
	}
	return siluMul
}
