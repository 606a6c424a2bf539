package transport

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
)

// rangePeer is a server in this process serving a range of layers of the
// whole tiny model file, which it can be reassigned.
type rangePeer struct {
	*testPeer
	t    testing.TB
	file *gguf.File
	b    engine.Backend
}

var tinySum = sync.OnceValues(func() (string, error) { return engine.HashFile(tinyModel) })

// startRangePeer serves layers [start, end) of the tiny model's file.
func startRangePeer(t testing.TB, swarm Swarm, start, end int, o ServerOptions) *rangePeer {
	sum, err := tinySum()
	if err != nil {
		t.Fatal(err)
	}
	file, err := gguf.Open(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New(cpu.Options{Threads: 1})
	p := &rangePeer{t: t, file: file, b: b}
	frag := p.load(start, end)
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", id)
	if err != nil {
		t.Fatal(err)
	}
	o.Identity, o.Swarm, o.ModelSHA256, o.Logger = id, swarm, sum, quiet
	if o.MaxContext == 0 {
		o.MaxContext = 512
	}
	s, err := NewServer(frag, o)
	if err != nil {
		t.Fatal(err)
	}
	p.testPeer = servePeer(t, s, ln, func() {
		b.Close()
		file.Close()
	})
	return p
}

func (p *rangePeer) load(start, end int) *engine.Fragment {
	frag, err := engine.NewFragment(p.file, p.b, engine.FragmentOptions{Start: start, End: end})
	if err != nil {
		p.t.Fatal(err)
	}
	return frag
}

// reassign makes the peer serve layers [start, end).
func (p *rangePeer) reassign(start, end int) {
	if err := p.server.Reassign(p.load(start, end)); err != nil {
		p.t.Fatal(err)
	}
}

// waitHolding waits until the peer holds the ranges want.
func (p *rangePeer) waitHolding(want ...[2]int) {
	p.t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := p.server.Holding()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(end) {
			p.t.Fatalf("the peer holds %v, want %v", got, want)
		}
	}
}

// localTokens generates n greedy tokens in one process.
func localTokens(t testing.TB, prompt []int32, n int) []int32 {
	f, err := gguf.Open(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := cpu.New(cpu.Options{Threads: 1})
	defer b.Close()
	frag, err := engine.NewFragment(f, b, engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := frag.NewSession(512)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := engine.Generate(context.Background(), s, prompt, engine.GenerateOptions{MaxTokens: n, IgnoreEOS: true}, func(int32) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return res.Tokens
}

// generateThrough generates n greedy tokens through r, calling each after
// every token with its count.
func generateThrough(t testing.TB, r *Route, prompt []int32, n int, each func(i int)) []int32 {
	t.Helper()
	i := 0
	res, err := engine.Generate(context.Background(), r, prompt, engine.GenerateOptions{MaxTokens: n, IgnoreEOS: true}, func(int32) error {
		i++
		each(i)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Tokens
}

func hopLayers(r *Route) [][2]int {
	var out [][2]int
	for _, h := range r.Stats() {
		out = append(out, [2]int{h.Start, h.End})
	}
	return out
}

// TestReassignDrains switches two peers serving the tiny model's file from
// layers 0-1 and 2-3 to 0-2 and 3-3 after the 10th of 40 tokens, with
// the default drain: the running generation finishes on the fragments it
// opened on, its tokens exactly the uninterrupted ones, while each peer
// reports its new range and holds both; once the route closes, the old
// fragments are released; a new route chains the new ranges and gives the
// same tokens.
func TestReassignDrains(t *testing.T) {
	swarm := testSwarm(t)
	a := startRangePeer(t, swarm, 0, 2, ServerOptions{})
	b := startRangePeer(t, swarm, 2, 4, ServerOptions{})
	addrs := []string{a.addr, b.addr}
	prompt := loadCases(t)[0].PromptTokens
	const n = 40
	want := localTokens(t, prompt, n)
	o := RouteOptions{DialOptions: dialOptions(t, swarm), Logger: quiet}
	r, err := NewRoute(context.Background(), addrs, o)
	if err != nil {
		t.Fatal(err)
	}
	got := generateThrough(t, r, prompt, n, func(i int) {
		if i == 10 {
			a.reassign(0, 3)
			b.reassign(3, 4)
		}
	})
	if !slices.Equal(got, want) {
		t.Fatalf("through the reassigned peers: %v\nin one process: %v", got, want)
	}
	if r.Rebuilt() != 0 || !slices.Equal(hopLayers(r), [][2]int{{0, 2}, {2, 4}}) {
		t.Errorf("the route was rebuilt %d times, onto %v: want it to finish where it began", r.Rebuilt(), hopLayers(r))
	}
	if info := a.server.Info(); info.Start != 0 || info.End != 3 || !slices.Equal(info.Holding, [][2]int{{0, 3}, {0, 2}}) || info.SHA256 != "" {
		t.Errorf("peer a reports layers %d-%d, holding %v (sha256 %q): want 0-2, holding 0-2 and 0-1, no fragment file",
			info.Start, info.End-1, info.Holding, info.SHA256)
	}
	r.Close()
	a.waitHolding([2]int{0, 3})
	b.waitHolding([2]int{3, 4})

	r, err = NewRoute(context.Background(), addrs, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := generateThrough(t, r, prompt, n, func(int) {}); !slices.Equal(got, want) {
		t.Fatalf("through the new ranges: %v\nin one process: %v", got, want)
	}
	if l := hopLayers(r); !slices.Equal(l, [][2]int{{0, 3}, {3, 4}}) {
		t.Errorf("a new route takes layers %v, want 0-2 and 3-3", l)
	}
}

// TestReassignMoves switches the peers as TestReassignDrains does, with a
// drain of 50 ms: the sessions on the old fragments end, the fragments
// are released, and the route, finding no peer serving its hops' layers,
// rebuilds itself through the new ranges and computes the sequence again:
// its 40 tokens are exactly the uninterrupted ones.
func TestReassignMoves(t *testing.T) {
	swarm := testSwarm(t)
	o := ServerOptions{Drain: 50 * time.Millisecond}
	a := startRangePeer(t, swarm, 0, 2, o)
	b := startRangePeer(t, swarm, 2, 4, o)
	prompt := loadCases(t)[0].PromptTokens
	const n = 40
	want := localTokens(t, prompt, n)
	r, err := NewRoute(context.Background(), []string{a.addr, b.addr}, RouteOptions{DialOptions: dialOptions(t, swarm), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := generateThrough(t, r, prompt, n, func(i int) {
		if i == 10 {
			a.reassign(0, 3)
			b.reassign(3, 4)
			a.waitHolding([2]int{0, 3}) // the old sessions ended, their fragments released
			b.waitHolding([2]int{3, 4})
		}
	})
	if !slices.Equal(got, want) {
		t.Fatalf("through the reassigned peers: %v\nin one process: %v", got, want)
	}
	if r.Rebuilt() != 1 || !slices.Equal(hopLayers(r), [][2]int{{0, 3}, {3, 4}}) {
		t.Errorf("the route was rebuilt %d times, onto %v: want once, onto 0-2 and 3-3", r.Rebuilt(), hopLayers(r))
	}
}

// TestReassignBatchesByFragment sends one multi-session request whose two
// sessions compute on different fragments of one peer (one opened before
// a reassign, one after, neither naming its layers): each part gets the
// hidden states of its own fragment's layers, bit for bit as a fragment
// of those layers in this process gives them. A request naming layers
// the session's fragment does not compute is refused with ErrMoved.
func TestReassignBatchesByFragment(t *testing.T) {
	swarm := testSwarm(t)
	a := startRangePeer(t, swarm, 0, 2, ServerOptions{})
	p, err := Dial(context.Background(), a.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := newCompressor()
	prompt := loadCases(t)[0].PromptTokens
	embd := a.server.model.Embedding
	step := func(session uint64, pos int, tokens []int32) *ForwardRequest {
		return &ForwardRequest{Session: session, Pos: pos, N: len(tokens), Tokens: tokens}
	}
	out := make([]float32, len(prompt)*embd)
	if _, err := p.forward(context.Background(), c.encodeForward(step(1, 0, prompt), WireF32), out); err != nil {
		t.Fatal(err)
	}
	a.reassign(0, 3)
	if _, err := p.forward(context.Background(), c.encodeForward(step(2, 0, prompt), WireF32), out); err != nil {
		t.Fatal(err)
	}
	next := prompt[:2]
	outs := [][]float32{make([]float32, len(next)*embd), make([]float32, len(next)*embd)}
	parts := [][]byte{c.encodeForward(step(1, len(prompt), next), WireF32), c.encodeForward(step(2, len(prompt), next), WireF32)}
	if _, err := p.forwardMany(context.Background(), joinParts(parts), outs); err != nil {
		t.Fatal(err)
	}
	// The references compute on a backend of their own: the server's is
	// the server's, and only the network orders the test after its turns.
	ref := cpu.New(cpu.Options{Threads: 1})
	defer ref.Close()
	for i, end := range []int{2, 3} {
		local, err := engine.NewFragment(a.file, ref, engine.FragmentOptions{Start: 0, End: end})
		if err != nil {
			t.Fatal(err)
		}
		s, err := local.NewSession(64)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(prompt)*embd)
		if err := local.Forward(want, s, engine.Batch{Tokens: prompt}); err != nil {
			t.Fatal(err)
		}
		if err := local.Forward(want[:len(next)*embd], s, engine.Batch{Tokens: next}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(outs[i], want[:len(next)*embd]) {
			t.Errorf("session %d (layers 0-%d): the batched output differs from its fragment's", i+1, end-1)
		}
		s.Close()
		local.Close()
	}
	named := step(1, len(prompt)+2, next)
	named.Start, named.End = 0, 3
	_, err = p.forward(context.Background(), c.encodeForward(named, WireF32), outs[0])
	if !errors.Is(err, ErrMoved) {
		t.Errorf("a request for layers 0-2 on a session of layers 0-1: %v, want ErrMoved", err)
	}
}
