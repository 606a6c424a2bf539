package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExp64Accuracy checks exp64 against math.Exp over its domain, and
// its values outside.
func TestExp64Accuracy(t *testing.T) {
	rng := newRNG(t)
	ys := []float64{0, math.Copysign(0, -1), 1, -1, 0.5 * math.Ln2, -0.5 * math.Ln2, math.Ln2, 88.7, -88.7,
		-103.3, -745, expLow, expHigh, 709, -40, 40}
	for range 200000 {
		ys = append(ys, expLow+rng.Float64()*(expHigh-expLow), rng.NormFloat64()*4)
	}
	worst := 0.0
	for _, y := range ys {
		got := exp64(y)
		switch {
		case y < expLow:
			if got != 0 {
				t.Fatalf("exp64(%v) = %v, want 0 below %v", y, got, expLow)
			}
			continue
		case y > expHigh:
			if !math.IsInf(got, 1) {
				t.Fatalf("exp64(%v) = %v, want +Inf above %v", y, got, expHigh)
			}
			continue
		}
		want := math.Exp(y)
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
		if rel > 0x1p-50 {
			t.Fatalf("exp64(%v) = %v, math.Exp %v: relative error %.3g", y, got, want, rel)
		}
	}
	if got := exp64(math.NaN()); !math.IsNaN(got) {
		t.Fatalf("exp64(NaN) = %v", got)
	}
	t.Logf("worst relative error %.3g (2^%.1f)", worst, math.Log2(worst))
}

// siluInputs are gates that reach every branch of exp64 and the float32
// edges, then random ones of several scales.
func siluInputs(rng *rand.Rand, n int) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 40, -40, 39.99, -200, -200.01, 200, -88.72, 88.72,
		-700, 700, -745, 1e-40, -1e-40, math.MaxFloat32, -math.MaxFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	x := make([]float32, n)
	for i := range x {
		switch rng.IntN(4) {
		case 0:
			x[i] = special[rng.IntN(len(special))]
		default:
			x[i] = float32(rng.NormFloat64() * []float64{0.1, 1, 10, 300}[rng.IntN(4)])
		}
	}
	return x
}

// TestSiluVariants checks every variant's SwiGLU product against the
// twin, bit for bit, and the twin against math.Exp's silu (to a unit in
// the last place of the float32 silu).
func TestSiluVariants(t *testing.T) {
	rng := newRNG(t)
	for _, v := range supportedVariants() {
		f := silus(v)
		for n := range 70 {
			for range 20 {
				gate, up := siluInputs(rng, n), siluInputs(rng, n)
				got, want := make([]float32, n), make([]float32, n)
				f(got, gate, up)
				siluMul(want, gate, up)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(isNaN32(got[i]) && isNaN32(want[i])) {
						t.Fatalf("%v silu(%v)·%v = %v, twin %v", v, gate[i], up[i], got[i], want[i])
					}
				}
			}
		}
	}
	ones := make([]float32, 1)
	ones[0] = 1
	for range 100000 {
		g := siluInputs(rng, 1)
		var got [1]float32
		siluMul(got[:], g, ones)
		x := float64(g[0])
		want := float32(x / (1 + math.Exp(-x)))
		if d := int64(math.Float32bits(got[0])) - int64(math.Float32bits(want)); (d > 1 || d < -1) && !(isNaN32(got[0]) && isNaN32(want)) {
			t.Fatalf("silu(%v) = %v, with math.Exp %v", g[0], got[0], want)
		}
	}
}

func isNaN32(x float32) bool { return x != x }

// TestSoftmaxExpVariants checks every variant's softmax exponential
// against the twin, bit for bit: the float32 weights and the float64 sum.
func TestSoftmaxExpVariants(t *testing.T) {
	rng := newRNG(t)
	for _, v := range supportedVariants() {
		f := softmaxExps(v)
		for n := range 70 {
			for range 20 {
				scores := make([]float32, n)
				scale := []float64{0.01, 1, 30, 1000}[rng.IntN(4)]
				best := float32(math.Inf(-1))
				for i := range scores {
					scores[i] = float32(rng.NormFloat64() * scale)
					if rng.IntN(16) == 0 {
						scores[i] = float32(math.Inf(-1))
					}
					best = max(best, scores[i])
				}
				got, want := append([]float32(nil), scores...), append([]float32(nil), scores...)
				gs, ws := f(got, best), softmaxExp(want, best)
				if math.Float64bits(gs) != math.Float64bits(ws) && !(math.IsNaN(gs) && math.IsNaN(ws)) {
					t.Fatalf("%v: sum of %d exponentials %v, twin %v", v, n, gs, ws)
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(isNaN32(got[i]) && isNaN32(want[i])) {
						t.Fatalf("%v: exp(%v − %v) = %v, twin %v", v, scores[i], best, got[i], want[i])
					}
				}
			}
		}
	}
}
