package transport

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"

	"strata/engine"
)

// manyRequests are three parts of a multi-session request: tokens, f16
// hidden states asking for sparse logits, and f32 hidden states asking
// for every row's logits.
func manyRequests(width int) ([]*ForwardRequest, []Wire) {
	h := make([]float32, 3*width)
	for i := range h {
		h[i] = float32(i) / 8
	}
	return []*ForwardRequest{
		{Session: 1, Pos: 4, N: 2, Tokens: []int32{7, 9}},
		{Session: 2, Pos: 0, N: 1, Hidden: h[:width], Needs: engine.LogitsNeeds{TopK: 3, Also: []int32{5}}},
		{Session: 3, Pos: 9, N: 3, Hidden: h, AllLogits: true},
	}, []Wire{WireF32, WireF16, WireF32}
}

func encodeMany(c *compressor, reqs []*ForwardRequest, wires []Wire) []byte {
	parts := make([][]byte, len(reqs))
	for i, r := range reqs {
		parts[i] = c.encodeForward(r, wires[i])
	}
	return joinParts(parts)
}

// TestForwardManyRoundTrip: a multi-session request decodes to its parts,
// each as its single request decodes.
func TestForwardManyRoundTrip(t *testing.T) {
	const width = 4
	reqs, wires := manyRequests(width)
	b := encodeMany(newCompressor(), reqs, wires)
	got, parts, err := newCompressor().decodeForwardMany(b, width, 16, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(reqs) || len(parts) != len(reqs) {
		t.Fatalf("%d parts, want %d", len(got), len(reqs))
	}
	for i, r := range reqs {
		g := got[i]
		if g.Session != r.Session || g.Pos != r.Pos || g.N != r.N || g.AllLogits != r.AllLogits || !slices.Equal(g.Tokens, r.Tokens) ||
			!slices.Equal(g.Hidden, r.Hidden) || g.Needs.TopK != r.Needs.TopK || !slices.Equal(g.Needs.Also, r.Needs.Also) {
			t.Errorf("part %d: %+v, want %+v", i, g, r)
		}
		if f, _ := parseForward(parts[i]); f.wire() != wires[i] {
			t.Errorf("part %d travels in %v, want %v", i, f.wire(), wires[i])
		}
	}
}

// TestForwardManyMalformed: the decoder refuses what breaks the layout or
// its bounds.
func TestForwardManyMalformed(t *testing.T) {
	const width = 4
	c := newCompressor()
	reqs, wires := manyRequests(width)
	good := encodeMany(c, reqs, wires)
	one := c.encodeForward(reqs[0], WireF32)
	cases := map[string][]byte{
		"empty":            {},
		"no parts":         binary.LittleEndian.AppendUint32(nil, 0),
		"more than said":   append(slices.Clone(good), 0),
		"cut short":        good[:len(good)-1],
		"part too long":    binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 1), 1<<30),
		"too many parts":   joinParts([][]byte{one, c.encodeForward(reqs[1], WireF32), c.encodeForward(reqs[2], WireF32), one}),
		"a session twice":  joinParts([][]byte{one, one}),
		"count past bytes": binary.LittleEndian.AppendUint32(nil, 3),
		"a bad part":       joinParts([][]byte{one, {1, 2, 3}}),
	}
	for name, b := range cases {
		if _, _, err := c.decodeForwardMany(b, width, 16, 3); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if _, _, err := c.decodeForwardMany(good, width, 2, 3); !errors.Is(err, ErrMalformed) {
		t.Errorf("a part of more positions than allowed: %v", err)
	}
}

// TestResultManyRoundTrip: each part of a multi-session result decodes as
// its single result does, dense or sparse.
func TestResultManyRoundTrip(t *testing.T) {
	c := newCompressor()
	hidden := []float32{1, 2, 3, 4}
	logits := []float32{0.5, 3, -1, 2, 7, 0}
	b := joinParts([][]byte{c.encodeResult(hidden, WireF16, false, 10), encodeSparse([]int32{4, 1}, logits, 12), c.encodeResult(logits, WireF16, true, 9)})
	outs := [][]float32{make([]float32, 4), make([]float32, 6), make([]float32, 6)}
	compute, err := newCompressor().decodeResultMany(outs, b)
	if err != nil {
		t.Fatal(err)
	}
	inf := float32(math.Inf(-1))
	if !slices.Equal(outs[0], hidden) || !slices.Equal(outs[1], []float32{inf, 3, inf, inf, 7, inf}) || !slices.Equal(outs[2], logits) || compute != 12 {
		t.Errorf("got %v, %v, %v, compute %d", outs[0], outs[1], outs[2], compute)
	}
	if _, err := newCompressor().decodeResultMany(outs[:2], b); !errors.Is(err, ErrMalformed) {
		t.Errorf("a result of more parts than asked: %v", err)
	}
	if _, err := newCompressor().decodeResultMany(append(outs, make([]float32, 6)), b); !errors.Is(err, ErrMalformed) {
		t.Errorf("a result of fewer parts than asked: %v", err)
	}
}

// FuzzDecodeForwardMany checks that no request makes the multi-session
// decoder panic, that what it accepts holds 1 to maxParts valid parts of
// distinct sessions, and that it re-encodes to what decodes the same.
func FuzzDecodeForwardMany(f *testing.F) {
	const width, maxN, maxParts = 4, 16, 3
	c := newCompressor()
	reqs, wires := manyRequests(width)
	f.Add(encodeMany(c, reqs, wires))
	f.Add(encodeMany(c, reqs[:1], wires[:1]))
	f.Add(joinParts([][]byte{c.encodeForward(reqs[0], WireF32), c.encodeForward(reqs[0], WireF32)}))
	f.Add([]byte{1, 0, 0, 0, 17, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, parts, err := newCompressor().decodeForwardMany(b, width, maxN, maxParts)
		if err != nil {
			return
		}
		if len(got) < 1 || len(got) > maxParts || len(parts) != len(got) {
			t.Fatalf("accepted %d parts", len(got))
		}
		for i, r := range got {
			if r.N < 1 || r.N > maxN || r.Tokens != nil && len(r.Tokens) != r.N || r.Tokens == nil && len(r.Hidden) != r.N*width {
				t.Fatalf("part %d: accepted %d positions with %d tokens and %d values", i, r.N, len(r.Tokens), len(r.Hidden))
			}
			for j := range i {
				if got[j].Session == r.Session {
					t.Fatalf("parts %d and %d share session %d", j, i, r.Session)
				}
			}
		}
		again := make([][]byte, len(parts))
		for i, p := range parts {
			f, _ := parseForward(p)
			again[i] = newCompressor().encodeForward(got[i], f.wire())
		}
		back, _, err := newCompressor().decodeForwardMany(joinParts(again), width, maxN, maxParts)
		if err != nil {
			t.Fatalf("a decoded request does not decode once re-encoded: %v", err)
		}
		for i := range back {
			if back[i].Session != got[i].Session || back[i].Pos != got[i].Pos || back[i].N != got[i].N || !slices.Equal(back[i].Tokens, got[i].Tokens) {
				t.Fatalf("part %d changed: %+v, then %+v", i, got[i], back[i])
			}
		}
	})
}
