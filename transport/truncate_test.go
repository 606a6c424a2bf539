package transport

import (
	"context"
	"slices"
	"testing"
)

// TestTruncate: a route cut back to a shared prefix and fed the rest of
// another prompt gives that prompt's logits, bit for bit, and so does a
// replica that takes over afterwards (it replays only the kept history).
func TestTruncate(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 2}, {2, 4}})
	swarm := testSwarm(t)
	first := startPeer(t, dir, m, 0, swarm)
	last := startPeer(t, dir, m, 1, swarm)
	replica := startPeer(t, dir, m, 1, swarm)
	r, err := NewRoute(context.Background(), []string{first.addr, last.addr, replica.addr},
		RouteOptions{DialOptions: dialOptions(t, swarm), Manifest: m, Chunk: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a := loadCases(t)[0].PromptTokens
	b := slices.Clone(loadCases(t)[1].PromptTokens)
	copy(b, a[:4]) // b shares its first 4 tokens with a
	got := make([]float32, r.VocabSize())
	if err := r.Eval(got, a); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []int32{7, 8, 9} { // decode steps past the prompt
		if err := r.Eval(got, []int32{tok}); err != nil {
			t.Fatal(err)
		}
	}
	r.Truncate(4)
	if r.Pos() != 4 {
		t.Fatalf("after Truncate(4), Pos is %d", r.Pos())
	}
	for i, h := range r.hops { // chunks of 3: the requests at 0 and 3 are kept
		var starts []int
		for _, p := range h.sent {
			f, _ := parseForward(p)
			starts = append(starts, f.pos)
		}
		if !slices.Equal(starts, []int{0, 3}) {
			t.Errorf("hop %d keeps requests starting at %v, want [0 3]", i, starts)
		}
	}
	if err := r.Eval(got, b[4:]); err != nil {
		t.Fatal(err)
	}
	if want := localLogits(t, b); !slices.Equal(got, want) {
		t.Fatal("logits after Truncate differ from the prompt's in one process")
	}
	last.stop()
	next := append(slices.Clone(b), 11)
	if err := r.Eval(got, next[len(b):]); err != nil {
		t.Fatal(err)
	}
	if want := localLogits(t, next); !slices.Equal(got, want) {
		t.Fatal("logits on the replica after Truncate differ from one process")
	}
	if s := r.Stats(); s[1].Replaced != 1 || s[1].Addr != replica.addr {
		t.Errorf("the replica did not take over: %+v", s[1])
	}
}
