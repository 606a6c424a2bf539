package transport

import (
	"context"
	"os"
	"slices"
	"testing"

	"strata/engine"
	"strata/gpu"
)

// TestMixedBackends: the middle peer computes on Vulkan, the others on
// the CPU; the route still gives the exact pass's greedy tokens.
func TestMixedBackends(t *testing.T) {
	g, err := gpu.New(gpu.Options{Device: -1, PipelineCache: "-"})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs a Vulkan device: %v", err)
		}
		t.Skip(err)
	}
	dir, m := splitTiny(t, [][2]int{{0, 1}, {1, 3}, {3, 4}})
	swarm := testSwarm(t)
	first := startPeer(t, dir, m, 0, swarm)
	middle := startPeerOn(t, dir, m, 1, swarm, "127.0.0.1:0", ServerOptions{MaxContext: 512}, g)
	last := startPeer(t, dir, m, 2, swarm)
	for ci, c := range loadCases(t)[:2] {
		r, err := NewRoute(context.Background(), []string{first.addr, middle.addr, last.addr}, RouteOptions{DialOptions: dialOptions(t, swarm), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if st := r.Stats(); st[1].Backend != "vulkan" {
			t.Fatalf("the middle hop computes on %q", st[1].Backend)
		}
		res, err := engine.Generate(context.Background(), r, c.PromptTokens,
			engine.GenerateOptions{MaxTokens: len(c.GreedyTokens), IgnoreEOS: true}, func(int32) error { return nil })
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Tokens, c.GreedyTokens) {
			t.Errorf("case %d: got %v\nwant %v", ci, res.Tokens, c.GreedyTokens)
		}
	}
}
