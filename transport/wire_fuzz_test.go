package transport

import (
	"slices"
	"testing"

	"strata/engine"
)

// FuzzDecodeForward checks that no request makes the decoder panic or
// allocate past what the request's size allows, and that what it accepts
// re-encodes to a request it decodes the same way.
func FuzzDecodeForward(f *testing.F) {
	const width, maxN = 8, 64
	c := newCompressor()
	f.Add(c.encodeForward(&ForwardRequest{Session: 7, Pos: 3, N: 2, Tokens: []int32{1, 2}}, WireF32))
	f.Add(c.encodeForward(&ForwardRequest{Session: 7, N: 1, Hidden: make([]float32, width), Needs: engine.LogitsNeeds{TopK: 40, Also: []int32{5, 9}}}, WireF16))
	f.Add(c.encodeForward(&ForwardRequest{Session: 1, N: 32, Hidden: make([]float32, 32*width), AllLogits: true}, WireF32)) // compresses
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := newCompressor().decodeForward(b, width, maxN)
		if err != nil {
			return
		}
		if r.N < 1 || r.N > maxN || r.Tokens != nil && len(r.Tokens) != r.N || r.Tokens == nil && len(r.Hidden) != r.N*width {
			t.Fatalf("accepted a request of %d positions with %d tokens and %d values", r.N, len(r.Tokens), len(r.Hidden))
		}
		if len(r.Needs.Also) > len(b)/4 {
			t.Fatalf("%d extra logits asked in %d bytes", len(r.Needs.Also), len(b))
		}
		w := WireF32
		if f, _ := parseForward(b); f.wire() == WireF16 {
			w = WireF16
		}
		again, err := newCompressor().decodeForward(newCompressor().encodeForward(r, w), width, maxN)
		if err != nil {
			t.Fatalf("a decoded request does not decode once re-encoded: %v", err)
		}
		if again.Session != r.Session || again.Pos != r.Pos || again.N != r.N || again.AllLogits != r.AllLogits ||
			!slices.Equal(again.Tokens, r.Tokens) || again.Needs.TopK != r.Needs.TopK || !slices.Equal(again.Needs.Also, r.Needs.Also) {
			t.Fatalf("re-encoding changed the request: %+v, then %+v", r, again)
		}
	})
}

// FuzzDecodeResult checks that no reply makes the result decoder panic
// or write past its output.
func FuzzDecodeResult(f *testing.F) {
	c := newCompressor()
	f.Add(c.encodeResult(make([]float32, 16), WireF32, false, 5))
	f.Add(c.encodeResult(make([]float32, 16), WireF16, false, 5))
	f.Add(c.encodeResult(make([]float32, 1024), WireF32, true, 5)) // compresses
	f.Add(encodeSparse([]int32{3, 1}, make([]float32, 16), 9))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range []int{16, 1024} {
			dst := make([]float32, n+1)
			newCompressor().decodeResult(dst[:n], b)
			if dst[n] != 0 {
				t.Fatalf("wrote past the output")
			}
		}
	})
}
