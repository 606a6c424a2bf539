package transport

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"strata/engine"
	"strata/engine/testmodel"
)

// generateGreedy runs each reference case greedily for n tokens on its
// own route of the group (generateMany) and reports, as "case I what",
// each whose tokens are not the reference's greedy continuation.
func generateGreedy(t *testing.T, g *Group, cases []testmodel.ReferenceCase, n int, each func(step int), what string) {
	t.Helper()
	var prompts [][]int32
	for _, c := range cases {
		prompts = append(prompts, c.PromptTokens)
	}
	got := generateMany(t, g, prompts, n, each)
	for i, c := range cases {
		if !slices.Equal(got[i], c.GreedyTokens[:n]) {
			t.Errorf("case %d %s: %v\nwant %v", i, what, got[i], c.GreedyTokens[:n])
		}
	}
}

// generateMany runs every case greedily on its own route of the group,
// all stepping together through EvalMany: the prompts (of different
// lengths) in one step, then a token each per step. each is called after
// every step with its number.
func generateMany(t *testing.T, g *Group, cases [][]int32, n int, each func(step int)) [][]int32 {
	t.Helper()
	vocab := g.Routes()[0].VocabSize()
	steps := make([]Step, len(cases))
	for i, c := range cases {
		steps[i] = Step{Route: g.Routes()[i], Tokens: c, Logits: make([]float32, vocab), Needs: engine.LogitsNeeds{TopK: 1}}
	}
	out := make([][]int32, len(cases))
	for step := range n {
		g.EvalMany(steps)
		for i := range steps {
			if steps[i].Err != nil {
				t.Fatalf("step %d, route %d: %v", step, i, steps[i].Err)
			}
			tok := engine.TopK(nil, steps[i].Logits, 1)[0]
			out[i] = append(out[i], tok)
			steps[i].Tokens = []int32{tok}
		}
		each(step)
	}
	return out
}

// TestGroup: four routes of a group through three peers, stepped
// together (their prompts cut across the peers' turns), each get the reference's greedy tokens, and every hop ran
// them as multi-session requests.
func TestGroup(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 1}, {1, 3}, {3, 4}})
	swarm := testSwarm(t)
	var peers []*testPeer
	var addrs []string
	for i := range m.Fragments {
		// Turns of 5 positions: the prompts are cut across turns.
		p := startPeerAt(t, dir, m, i, swarm, "127.0.0.1:0", ServerOptions{MaxContext: 512, Chunk: 5})
		peers, addrs = append(peers, p), append(addrs, p.addr)
	}
	g, err := NewGroup(context.Background(), addrs, 4, RouteOptions{DialOptions: dialOptions(t, swarm), Manifest: m, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	const n = 12
	generateGreedy(t, g, loadCases(t), n, func(int) {}, "in the group")
	for i, p := range peers {
		if info := p.server.Info(); info.Batches != n || info.Forwards != 4*n {
			t.Errorf("peer %d served %d multi-session requests and %d forwards, want %d and %d", i, info.Batches, info.Forwards, n, 4*n)
		}
	}
	if st := g.Routes()[2].Stats(); st[1].Forwards != n {
		t.Errorf("route 2's middle hop acknowledged %d forwards, want %d", st[1].Forwards, n)
	}
}

// TestGroupFailover stops the peer of the middle layers after the fifth
// step: every route's session moves to the replica, replayed from its own
// history, and the tokens are exactly those of an uninterrupted run; the
// steps after go batched to the replica.
func TestGroupFailover(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 1}, {1, 3}, {3, 4}})
	swarm := testSwarm(t)
	first := startPeer(t, dir, m, 0, swarm)
	middle := startPeer(t, dir, m, 1, swarm)
	replica := startPeer(t, dir, m, 1, swarm)
	last := startPeer(t, dir, m, 2, swarm)
	addrs := []string{first.addr, middle.addr, replica.addr, last.addr}
	g, err := NewGroup(context.Background(), addrs, 3, RouteOptions{DialOptions: dialOptions(t, swarm), Manifest: m, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	const n = 16
	generateGreedy(t, g, loadCases(t)[:3], n, func(step int) {
		if step == 4 {
			middle.stop()
		}
	}, "after the failover")
	for i, r := range g.Routes() {
		if st := r.Stats(); st[1].Addr != replica.addr {
			t.Errorf("route %d's middle hop is %s, want the replica %s", i, st[1].Addr, replica.addr)
		}
	}
	if b := replica.server.Info().Batches; b < n-6 {
		t.Errorf("the replica served %d multi-session requests, want the steps after the failover batched", b)
	}
}

// TestForwardManyRefusals: a peer refuses a multi-session request naming
// a session twice, or more sessions than its quota for the identity, and
// names the part that does not fit its session.
func TestForwardManyRefusals(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	peer := startPeerAt(t, dir, m, 0, swarm, "127.0.0.1:0", ServerOptions{MaxContext: 16, SessionsPerIdentity: 2})
	p, err := Dial(context.Background(), peer.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := newCompressor()
	send := func(reqs ...*ForwardRequest) error {
		parts := make([][]byte, len(reqs))
		outs := make([][]float32, len(reqs))
		for i, r := range reqs {
			parts[i] = c.encodeForward(r, WireF32)
			outs[i] = make([]float32, peer.server.model.Vocab)
		}
		_, err := p.forwardMany(context.Background(), joinParts(parts), outs)
		return err
	}
	tok := func(session uint64, pos, n int) *ForwardRequest {
		return &ForwardRequest{Session: session, Pos: pos, N: n, Tokens: make([]int32, n)}
	}
	if err := send(tok(1, 0, 1), tok(1, 0, 1)); err == nil || !strings.Contains(err.Error(), "both for session 1") {
		t.Errorf("a session twice: %v", err)
	}
	if err := send(tok(1, 0, 1), tok(2, 0, 1), tok(3, 0, 1)); err == nil {
		t.Error("three sessions of an identity allowed two were run")
	}
	if err := send(tok(1, 0, 2), tok(2, 0, 3)); err != nil {
		t.Fatal(err)
	}
	if err := send(tok(1, 2, 1), tok(3, 0, 1)); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "part 1") {
		t.Errorf("a third session of an identity allowed two: %v", err)
	}
	if err := send(tok(1, 2, 1), tok(2, 3, 14)); err == nil || !strings.Contains(err.Error(), "part 1") {
		t.Errorf("a part past its context: %v", err)
	}
}
