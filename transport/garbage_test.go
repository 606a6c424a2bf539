//go:build !race

// The race detector makes sync.Pool drop items at random (quic-go's
// packet buffers and zstd's encoders live in pools), so what a step
// allocates is only measured without it.

package transport

import (
	"context"
	"runtime"
	"testing"

	"strata/engine"
)

// TestDecodeGarbage checks that a decode step through two peers makes
// less garbage than one copy of the logits: the last peer keeps a
// session's output between steps instead of allocating 4·vocab bytes
// for each (which made 161 KB a step on the tiny model, and a collection
// every few dozen tokens that stopped the peers' compute).
func TestDecodeGarbage(t *testing.T) {
	dir, m := splitModel(t, tinyModel, [][2]int{{0, 2}, {2, 4}})
	swarm := testSwarm(t)
	addrs := startPeers(t, dir, m, swarm)
	r, err := NewRoute(context.Background(), addrs, RouteOptions{DialOptions: dialOptions(t, swarm), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	logits := make([]float32, r.VocabSize())
	if err := r.Eval(logits, []int32{1, 9038, 2501}); err != nil {
		t.Fatal(err)
	}
	step := func() {
		r.NeedLogits(engine.LogitsNeeds{TopK: 1})
		if err := r.Eval(logits, []int32{263}); err != nil {
			t.Fatal(err)
		}
	}
	step()
	per := bytesPerStep(step)
	t.Logf("%d bytes a decode step (client and both peers)", per)
	if limit := uint64(4 * r.VocabSize()); per >= limit {
		t.Errorf("%d bytes allocated a decode step, want fewer than one copy of the logits (%d)", per, limit)
	}
}

// TestDecodeGarbageMany: the same for three sessions stepping together
// through multi-session requests, which made three copies of the logits a
// step.
func TestDecodeGarbageMany(t *testing.T) {
	dir, m := splitModel(t, tinyModel, [][2]int{{0, 2}, {2, 4}})
	swarm := testSwarm(t)
	addrs := startPeers(t, dir, m, swarm)
	g, err := NewGroup(context.Background(), addrs, 3, RouteOptions{DialOptions: dialOptions(t, swarm), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	vocab := g.Routes()[0].VocabSize()
	steps := make([]Step, len(g.Routes()))
	for i, r := range g.Routes() {
		steps[i] = Step{Route: r, Tokens: []int32{1, 9038, int32(2501 + i)}, Logits: make([]float32, vocab)}
	}
	step := func() {
		g.EvalMany(steps)
		for i := range steps {
			if steps[i].Err != nil {
				t.Fatal(steps[i].Err)
			}
			steps[i].Tokens, steps[i].Needs = []int32{263}, engine.LogitsNeeds{TopK: 1}
		}
	}
	step()
	step()
	per := bytesPerStep(step)
	t.Logf("%d bytes a step of %d sessions", per, len(steps))
	if limit := uint64(4 * vocab); per >= limit {
		t.Errorf("%d bytes allocated a step of %d sessions, want fewer than one copy of the logits (%d)", per, len(steps), limit)
	}
}

// bytesPerStep runs step 50 times and returns the bytes the process
// allocated a step.
func bytesPerStep(step func()) uint64 {
	const n = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		step()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / n
}
