package synthetic

import (
	"math"
	"math/rand/v2"
	"testing"

	"strata/format"
	"strata/gguf"
)

// TestSpread checks that the weights of every type decode to a root mean
// square within a factor of 3 of 1/sqrt(cols), and norms to [0.5, 1.5).
// (Q4_K and Q5_K come out at about twice it, Q6_K at 1.2 times: their
// scales' estimates are rough. Left so, as test models are built on them.)
func TestSpread(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const cols, rows = 1024, 16
	for _, typ := range format.Types() {
		data, err := Weights(rng, typ, cols, rows)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, cols*rows)
		if err := format.Dequantize(v, data, typ); err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if rms := math.Sqrt(ss / float64(len(v))); rms < 1/(3*math.Sqrt(cols)) || rms > 3/math.Sqrt(cols) {
			t.Errorf("%v: root mean square %.3g, want about %.3g", typ, rms, 1/math.Sqrt(cols))
		}
	}
	for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.BF16} {
		data, err := Norms(rng, typ, cols)
		if err != nil {
			t.Fatal(err)
		}
		v := make([]float32, cols)
		format.Dequantize(v, data, typ)
		for i, x := range v {
			if x < 0.49 || x > 1.5 {
				t.Fatalf("%v: norm %d is %v", typ, i, x)
			}
		}
	}
	if _, err := Weights(rng, gguf.Q4_K, 100, 1); err == nil {
		t.Error("100 columns of Q4_K accepted")
	}
	if _, err := Weights(rng, gguf.TensorType(99), 32, 1); err == nil {
		t.Error("type 99 accepted")
	}
}
