package transport

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"strata/engine"
)

func TestHalfRoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		f := halfToFloat(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := floatToHalf(f); back != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, back)
		}
	}
	// Rounding to nearest: the error is at most half a unit in the last place.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		x := float32(rng.NormFloat64() * 10)
		h := halfToFloat(floatToHalf(x))
		// Half a unit in the last place: 2^-11 relative, or 2^-25 among subnormals.
		if e := math.Abs(float64(h - x)); e > max(math.Abs(float64(x))/2048, 0x1p-25) {
			t.Fatalf("%v -> %v: error %v", x, h, e)
		}
	}
}

func TestForwardEncoding(t *testing.T) {
	c := newCompressor()
	hidden := make([]float32, 3*64)
	for i := range hidden {
		hidden[i] = float32(i%7) * 0.5 // compressible
	}
	for _, w := range []Wire{WireF32, WireF16} {
		in := &ForwardRequest{Session: 42, Pos: 7, N: 3, Hidden: hidden, AllLogits: true}
		out, err := c.decodeForward(c.encodeForward(in, w), 64, 512)
		if err != nil {
			t.Fatal(err)
		}
		if out.Session != 42 || out.Pos != 7 || out.N != 3 || !out.AllLogits || !slices.Equal(out.Hidden, hidden) {
			t.Fatalf("%v: got %+v", w, out)
		}
	}
	tok := &ForwardRequest{Session: 1, N: 2, Tokens: []int32{5, 31999}}
	out, err := c.decodeForward(c.encodeForward(tok, WireF16), 64, 512)
	if err != nil || !slices.Equal(out.Tokens, tok.Tokens) {
		t.Fatalf("tokens: %+v %v", out, err)
	}
	if c.Sent >= c.Raw {
		t.Errorf("compressible bodies were not compressed: %d of %d bytes", c.Sent, c.Raw)
	}
	// A body of the wrong size is refused.
	bad := c.encodeForward(&ForwardRequest{Session: 1, N: 2, Hidden: hidden[:64]}, WireF32)
	if _, err := c.decodeForward(bad, 64, 512); err == nil {
		t.Error("a short body was accepted")
	}
}

// TestChooseLogits: the peer's selection is the k largest logits, ties
// to the lowest id, plus the ones asked for by id.
func TestChooseLogits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		logits := make([]float32, 1+rng.IntN(300))
		for i := range logits {
			logits[i] = float32(rng.IntN(20)) // many ties
		}
		needs := engine.LogitsNeeds{TopK: 1 + rng.IntN(40), Also: []int32{int32(rng.IntN(len(logits)))}}
		got := chooseLogits(logits, needs)
		order := make([]int32, len(logits))
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortStableFunc(order, func(a, b int32) int {
			if logits[a] != logits[b] {
				if logits[a] > logits[b] {
					return -1
				}
				return 1
			}
			return int(a - b)
		})
		want := append(slices.Clone(order[:min(needs.TopK, len(order))]), needs.Also...)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("k=%d: got %v want %v", needs.TopK, got, want)
		}
	}
}
