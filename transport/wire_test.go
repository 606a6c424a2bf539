package transport

import (
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"strata/engine"
)

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
// to the lowest id, plus the ones asked for by id, each id once.
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
		want = slices.Compact(want)
		if !slices.Equal(got, want) {
			t.Fatalf("k=%d: got %v want %v", needs.TopK, got, want)
		}
	}
}

// testSeed is the seed of a randomized test: STRATA_TEST_SEED when set,
// else a fresh one. It is logged, so that a failure can be repeated.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("STRATA_TEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("STRATA_TEST_SEED=%q: %v", s, err)
		}
	}
	t.Logf("seed %d (STRATA_TEST_SEED=%d repeats this run)", seed, seed)
	return seed
}

// routeLogits returns what a route's sampler sees of logits: those the
// last peer chooses for needs, through the wire, the others −∞; all of
// them when needs asks for all.
func routeLogits(t *testing.T, logits []float32, needs engine.LogitsNeeds) []float32 {
	t.Helper()
	dst := slices.Clone(logits)
	if needs.TopK <= 0 {
		return dst
	}
	if _, err := newCompressor().decodeResult(dst, encodeSparse(chooseLogits(logits, needs), logits, 0)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestRouteSamplesAsLocal: on random logits full of ties (a few values,
// −∞, +∞ and NaN among them), with random sampling options, a sampler
// that sees every logit (a local run) and one that sees only what the
// last peer sends for its Needs (a route) draw the same tokens.
func TestRouteSamplesAsLocal(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 13))
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	values := []float32{-inf, -2, -1, 0, 0, 0.5, 1, 1, 1, 2, 2, 3, inf, nan}
	pick := func(v ...float32) float32 { return v[rng.IntN(len(v))] }
	for trial := range 2000 {
		vocab := 1 + rng.IntN(48)
		o := engine.SamplerOptions{
			Temperature:   pick(0, 0.3, 0.8, 0.8, 1, 1.5),
			TopK:          rng.IntN(vocab + 3),
			TopP:          pick(0, 0.5, 0.9, 1),
			MinP:          pick(0, 0, 0.05, 0.3),
			RepeatPenalty: pick(1, 0.7, 1.3, 1.3, 2),
			RepeatLastN:   []int{-1, 0, 3, 8}[rng.IntN(4)],
			Seed:          rng.Uint64(),
		}
		local, route := engine.NewSampler(o, vocab), engine.NewSampler(o, vocab)
		history := make([]int32, 1+rng.IntN(6))
		for i := range history {
			history[i] = int32(rng.IntN(vocab))
		}
		for step := range 6 {
			logits := make([]float32, vocab)
			for i := range logits {
				logits[i] = values[rng.IntN(len(values)-3)] // mostly finite
				if rng.IntN(8) == 0 {
					logits[i] = values[rng.IntN(len(values))]
				}
			}
			needs := route.Needs(history)
			seen := routeLogits(t, logits, needs)
			a := local.Sample(slices.Clone(logits), history)
			b := route.Sample(seen, history)
			if a != b {
				t.Fatalf("trial %d step %d: %+v\nlogits %v\nhistory %v\nneeds %+v: locally %d, through a route %d",
					trial, step, o, logits, history, needs, a, b)
			}
			history = append(history, a)
		}
	}
}

// TestTiesGoToLowestID: where logits tie at the k-th place the lowest ids
// are kept, locally and through a route; over 256 seeds the draws are
// exactly the tokens listed.
func TestTiesGoToLowestID(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, c := range []struct {
		name    string
		logits  []float32
		o       engine.SamplerOptions
		history []int32
		want    []int32
	}{
		{"[1 1 2] top-k 2", []float32{1, 1, 2}, engine.SamplerOptions{TopK: 2}, nil, []int32{0, 2}},
		{"[2 1 1] top-k 2", []float32{2, 1, 1}, engine.SamplerOptions{TopK: 2}, nil, []int32{0, 1}},
		{"all tied, top-k 2", []float32{1, 1, 1, 1}, engine.SamplerOptions{TopK: 2}, nil, []int32{0, 1}},
		{"a tie after the first k", []float32{0, 3, 1, 1, 2, 1}, engine.SamplerOptions{TopK: 3}, nil, []int32{1, 2, 4}},
		{"top-p keeps the lowest of a tie", []float32{2, 1, 1}, engine.SamplerOptions{TopK: 3, TopP: 0.75}, nil, []int32{0, 1}},
		{"min-p after a tie", []float32{1, 0, 1, 1}, engine.SamplerOptions{TopK: 2, MinP: 0.5}, nil, []int32{0, 2}},
		{"a penalty breaks a tie", []float32{2, 2, 2, 1}, engine.SamplerOptions{TopK: 2, RepeatPenalty: 2, RepeatLastN: 4}, []int32{0}, []int32{1, 2}},
		{"a penalty makes a tie", []float32{4, 2, 2}, engine.SamplerOptions{TopK: 2, RepeatPenalty: 2, RepeatLastN: 4}, []int32{0}, []int32{0, 1}},
		{"a penalty on a negative logit makes a tie", []float32{0, -1, 0, -0.5}, engine.SamplerOptions{TopK: 3, RepeatPenalty: 2, RepeatLastN: 4}, []int32{3}, []int32{0, 1, 2}},
		{"NaN ranks as −∞", []float32{nan, 1, 1, 1}, engine.SamplerOptions{TopK: 2}, nil, []int32{1, 2}},
		{"−∞ is never drawn", []float32{-inf, -inf, 0}, engine.SamplerOptions{TopK: 2}, nil, []int32{2}},
		{"+∞ ties share the draw", []float32{inf, 0, inf, inf}, engine.SamplerOptions{TopK: 2}, nil, []int32{0, 2}},
		{"greedy takes the lowest of a tie", []float32{1, 3, 3}, engine.SamplerOptions{}, nil, []int32{1}},
		{"greedy skips NaN", []float32{nan, 1}, engine.SamplerOptions{}, nil, []int32{1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			drawn := map[int32]bool{}
			for seed := range uint64(256) {
				o := c.o
				o.Seed = seed
				if o.Temperature == 0 && o.TopK > 0 {
					o.Temperature = 0.8
					if o.TopP == 0 {
						o.TopP = 1 // 0 would keep the best token alone
					}
				}
				local, route := engine.NewSampler(o, len(c.logits)), engine.NewSampler(o, len(c.logits))
				a := local.Sample(slices.Clone(c.logits), c.history)
				b := route.Sample(routeLogits(t, c.logits, route.Needs(c.history)), c.history)
				if a != b {
					t.Fatalf("seed %d: locally %d, through a route %d", seed, a, b)
				}
				drawn[a] = true
			}
			got := slices.Sorted(maps.Keys(drawn))
			if !slices.Equal(got, c.want) {
				t.Fatalf("drew %v, want %v", got, c.want)
			}
		})
	}
}

func TestWireString(t *testing.T) {
	for w, want := range map[Wire]string{WireF32: "f32", WireF16: "f16", 7: "wire(7)"} {
		if got := w.String(); got != want {
			t.Errorf("Wire(%d) is %q, want %q", uint8(w), got, want)
		}
	}
}
