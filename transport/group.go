package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"strata/engine"
)

// A Group is several Routes through one set of peers: each route its own
// session on every peer, their connections shared, so that EvalMany can
// carry every route's positions to a hop in one multi-session request,
// which the peer runs through its layers as one batch.
//
// Each route keeps its own history on each hop, one request per step,
// as if it had been sent alone: when a hop fails, each route's session
// moves to a replica exactly as a lone route's does (Route.send), and
// the replica's outputs are the same bit for bit, since a batch computes
// every session's rows as they are computed alone.
type Group struct {
	ctx    context.Context
	routes []*Route
	hops   []groupHop
}

// groupHop is what the group measured of a hop's multi-session requests.
type groupHop struct {
	peer *Peer         // the peer measured
	per  time.Duration // moving average of the wall time per position
}

// ErrNotInGroup reports a step for a route of another group, or none.
var ErrNotInGroup = errors.New("transport: the route is not one of the group's")

// NewGroup connects to the peers as NewRoute does and returns a group of
// n routes through the same chain of peers, over one connection to each.
func NewGroup(ctx context.Context, addrs []string, n int, o RouteOptions) (*Group, error) {
	if n < 1 {
		return nil, fmt.Errorf("transport: a group of %d routes", n)
	}
	first, err := NewRoute(ctx, addrs, o)
	if err != nil {
		return nil, err
	}
	g := &Group{ctx: ctx, routes: []*Route{first}, hops: make([]groupHop, len(first.hops))}
	first.group = g
	for range n - 1 {
		g.routes = append(g.routes, first.sibling())
	}
	return g, nil
}

// sibling is a new route of r's group: a session of its own through the
// same hops, over the same connections.
func (r *Route) sibling() *Route {
	r.mu.Lock()
	r.users++
	r.mu.Unlock()
	s := &Route{o: r.o, ctx: r.ctx, addrs: r.addrs, session: rand.Uint64(), context: r.context, vocab: r.vocab, embd: r.embd,
		pool: r.pool, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), group: r.group}
	for _, h := range r.hops {
		s.hops = append(s.hops, &hop{start: h.start, end: h.end, peer: h.peer, info: h.info, c: newCompressor(),
			stats: HopStats{Addr: h.peer.Addr, ID: h.peer.ID, Start: h.start, End: h.end, Backend: h.info.Backend, Device: h.info.Device}})
	}
	return s
}

// Routes are the group's routes.
func (g *Group) Routes() []*Route { return g.routes }

// Group is the group the route belongs to, or nil.
func (r *Route) Group() *Group { return r.group }

// Close ends every route's sessions, then the connections.
func (g *Group) Close() {
	for _, r := range g.routes {
		r.Close()
	}
}

// A Step is one route's share of EvalMany: the tokens it appends, the
// logits its sampler looks at, and where the last position's logits go.
type Step struct {
	Route  *Route
	Tokens []int32
	Needs  engine.LogitsNeeds
	Logits []float32 // out: the vocabulary's logits
	Err    error     // out: this route failed; the others went on
}

// EvalMany feeds each step's tokens through its route, as Eval does, and
// fails only the steps that fail. The steps travel together: one
// multi-session request per hop, for all those whose routes' hop is on
// the same peer. When such a request fails, its steps are sent again one
// by one, each by its own route, which moves to a replica as a lone
// route does. With witnesses or an observer, or a single step, each
// route evaluates alone.
func (g *Group) EvalMany(steps []Step) {
	var batch []*Step
	seen := map[*Route]bool{}
	for i := range steps {
		s := &steps[i]
		s.Err = nil
		switch r := s.Route; {
		case r == nil || r.group != g:
			s.Err = ErrNotInGroup
		case seen[r]:
			s.Err = fmt.Errorf("transport: two steps of one route at once")
		case len(s.Tokens) == 0:
			s.Err = fmt.Errorf("transport: a step of no tokens")
		case r.pos+len(s.Tokens) > r.context:
			s.Err = fmt.Errorf("transport: %w: %d positions after %d do not fit the context of %d", engine.ErrContextFull, len(s.Tokens), r.pos, r.context)
		default:
			seen[r] = true
			batch = append(batch, s)
		}
	}
	routes := make([]*Route, len(batch))
	for i, s := range batch {
		routes[i] = s.Route
	}
	// A route rebuilt after its peers were reassigned (see Route.Eval) may
	// cover other layers than the others: then each goes alone.
	if o := g.routes[0].o; len(batch) < 2 || o.VerifyRate > 0 || o.Observe != nil || !sameLayout(routes) {
		for _, s := range batch {
			s.Route.NeedLogits(s.Needs)
			s.Err = s.Route.Eval(s.Logits, s.Tokens)
		}
		return
	}
	if len(g.hops) != len(routes[0].hops) {
		g.hops = make([]groupHop, len(routes[0].hops))
	}
	g.evalBatch(batch)
	for _, s := range batch {
		if errors.Is(s.Err, errNoReplica) {
			// Its hop's layers are served no more: Eval rebuilds the route.
			s.Route.NeedLogits(s.Needs)
			s.Err = s.Route.Eval(s.Logits, s.Tokens)
		}
	}
}

// evalBatch runs the steps through the hops in turn, each hop's requests
// batched by peer.
func (g *Group) evalBatch(steps []*Step) {
	in := make([][]float32, len(steps)) // each step's hidden states for the hop; tokens on the first
	for hi := range g.hops {
		last := hi == len(g.hops)-1
		payloads := make([][]byte, len(steps))
		outs := make([][]float32, len(steps))
		for j, s := range steps {
			r := s.Route
			h := r.hops[hi]
			req := &ForwardRequest{Session: r.session, Pos: r.pos, N: len(s.Tokens), Tokens: s.Tokens, Start: h.start, End: h.end}
			if hi > 0 {
				req.Tokens, req.Hidden = nil, in[j]
			}
			if last {
				req.Needs, outs[j] = s.Needs, s.Logits[:r.vocab]
			} else {
				outs[j] = make([]float32, len(s.Tokens)*r.embd)
			}
			payloads[j] = r.hops[hi].c.encodeForward(req, r.o.Wire)
		}
		g.sendHop(hi, steps, payloads, outs)
		kept := 0
		for j, s := range steps {
			if s.Err == nil {
				steps[kept], in[kept] = s, outs[j]
				kept++
			}
		}
		steps, in = steps[:kept], in[:kept]
	}
	for _, s := range steps {
		s.Route.pos += len(s.Tokens)
		s.Route.tokens = append(s.Route.tokens, s.Tokens...)
	}
}

// sendHop sends hop hi's requests, one multi-session request to each
// peer serving it; the steps of a request that fails are sent again one
// by one, and those that fail then get their error.
func (g *Group) sendHop(hi int, steps []*Step, payloads [][]byte, outs [][]float32) {
	var order []*Peer
	by := map[*Peer][]int{}
	for j, s := range steps {
		p := s.Route.hops[hi].peer
		if by[p] == nil {
			order = append(order, p)
		}
		by[p] = append(by[p], j)
	}
	for _, p := range order {
		idx := by[p]
		if len(idx) > 1 {
			err := g.sendMany(hi, p, idx, steps, payloads, outs)
			if err == nil {
				continue
			}
			steps[idx[0]].Route.o.Logger.Warn("a multi-session request failed; sending its sessions one by one",
				"peer", p.Addr, "sessions", len(idx), "err", err)
		}
		for _, j := range idx {
			steps[j].Err = steps[j].Route.send(g.ctx, hi, payloads[j], outs[j])
		}
	}
}

// sendMany sends the steps idx of hop hi to p as one request, within a
// deadline made from what such requests took so far, and on success
// acknowledges each step's request on its route's hop.
func (g *Group) sendMany(hi int, p *Peer, idx []int, steps []*Step, payloads [][]byte, outs [][]float32) error {
	n := 0
	parts, mine := make([][]byte, len(idx)), make([][]float32, len(idx))
	for k, j := range idx {
		parts[k], mine[k] = payloads[j], outs[j]
		n += len(steps[j].Tokens)
	}
	d := g.deadline(hi, p, n)
	ctx, cancel := context.WithTimeout(g.ctx, d)
	defer cancel()
	start := time.Now()
	compute, err := p.forwardMany(ctx, joinParts(parts), mine)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("transport: %s did not answer %d sessions' %d positions within %v: %w", p.Addr, len(idx), n, d, context.DeadlineExceeded)
		}
		return err
	}
	wall := time.Since(start)
	gh := &g.hops[hi]
	per := wall / time.Duration(n)
	if gh.peer == p && gh.per > 0 {
		per = gh.per + (per-gh.per)/4
	}
	gh.peer, gh.per = p, per
	share := time.Duration(len(idx))
	for k, j := range idx {
		// Each route's stats get its share of the time; its deadlines
		// for a lone request the whole: it takes at most what the batch did.
		steps[j].Route.hops[hi].acknowledged(parts[k], len(steps[j].Tokens), compute/share, wall/share, wall)
	}
	return nil
}

// deadline is how long a multi-session request of n positions in all to
// p may take on hop hi: as Route.deadline, from what such requests took
// per position so far on that peer.
func (g *Group) deadline(hi int, p *Peer, n int) time.Duration {
	o := g.routes[0].o
	if gh := g.hops[hi]; gh.peer == p && gh.per > 0 {
		return o.Timeout + 8*time.Duration(n)*gh.per
	}
	return o.FirstTimeout + time.Duration(n)*250*time.Millisecond
}
