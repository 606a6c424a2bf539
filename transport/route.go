package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"strata/engine"
)

// RouteOptions configure NewRoute. Identity is required.
type RouteOptions struct {
	DialOptions
	// Wire is how hidden states travel between peers (default f32).
	Wire Wire
	// Manifest, when set, is the split the peers must serve: their
	// fragments' sha256 must match it.
	Manifest *engine.Manifest
	// Context is the most positions a session holds (default: the
	// smallest MaxContext of the peers).
	Context int
	// Chunk is the batch size of prompt pipelining (default 64).
	Chunk  int
	Logger *slog.Logger
}

// HopStats is what one hop of a route did.
type HopStats struct {
	Addr     string        `json:"addr"`
	ID       string        `json:"id"`
	Start    int           `json:"start"`
	End      int           `json:"end"`
	Backend  string        `json:"backend"`
	Device   string        `json:"device"`
	Forwards int           `json:"forwards"`
	Compute  time.Duration `json:"compute_ns"`
	Wall     time.Duration `json:"wall_ns"`
	Raw      int64         `json:"bytes_raw"`  // request bodies before compression
	Sent     int64         `json:"bytes_sent"` // request bodies sent
	Replaced int           `json:"replaced"`   // times a replica took over
}

// A Route is a coordinator's chain of peers that together hold every
// layer of a model. It implements engine.Stack.
type Route struct {
	o       RouteOptions
	ctx     context.Context
	addrs   []string
	session uint64
	pos     int
	context int
	vocab   int
	embd    int

	mu    sync.Mutex // guards peers
	peers map[string]*Peer
	hops  []*hop
	needs engine.LogitsNeeds // for the next Eval
}

type hop struct {
	start, end int
	peer       *Peer
	info       PeerInfo
	c          *compressor
	// sent holds every request this hop acknowledged, in order: the
	// session's history, replayed as is on a replica.
	sent  [][]byte
	stats HopStats
}

var _ engine.NeedsStack = (*Route)(nil)

// NeedLogits makes the next Eval carry only the logits the sampler will
// look at: the last peer sends those, not the whole vocabulary.
func (r *Route) NeedLogits(n engine.LogitsNeeds) { r.needs = n }

// ErrNoRoute reports peers that do not cover every layer.
var ErrNoRoute = errors.New("transport: no route covers every layer")

// NewRoute connects to the peers, asks each what it serves, and chains
// those that cover the model's layers, preferring peers in the order
// given. The others are kept as replicas.
func NewRoute(ctx context.Context, addrs []string, o RouteOptions) (*Route, error) {
	if o.Chunk <= 0 {
		o.Chunk = 64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Route{o: o, ctx: ctx, addrs: addrs, peers: map[string]*Peer{}, session: rand.Uint64()}
	infos := map[string]PeerInfo{}
	var errs []error
	for _, a := range addrs {
		p, info, err := r.connect(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.peers[a] = p
		infos[a] = info
	}
	layers, next := -1, 0
	for next != layers {
		var found *hop
		for _, a := range addrs {
			info, ok := infos[a]
			if ok && info.Start == next {
				found = &hop{start: info.Start, end: info.End, peer: r.peers[a], info: info, c: newCompressor()}
				layers = info.Layers
				break
			}
		}
		if found == nil {
			return nil, fmt.Errorf("%w: nothing serves layer %d (%w)", ErrNoRoute, next, errors.Join(errs...))
		}
		found.stats = HopStats{Addr: found.peer.Addr, ID: found.peer.ID, Start: found.start, End: found.end,
			Backend: found.info.Backend, Device: found.info.Device}
		r.hops = append(r.hops, found)
		next = found.end
	}
	first, last := r.hops[0].info, r.hops[len(r.hops)-1].info
	r.vocab, r.embd = last.Vocab, first.Embedding
	r.context = minContext(r.hops)
	if o.Context > 0 {
		r.context = min(r.context, o.Context)
	}
	return r, nil
}

// minContext is the smallest context of the hops.
func minContext(hops []*hop) int {
	c := hops[0].info.MaxContext
	for _, h := range hops {
		c = min(c, h.info.MaxContext)
	}
	return c
}

// connect dials a peer and checks what it serves against the manifest.
func (r *Route) connect(addr string) (*Peer, PeerInfo, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	p, err := Dial(ctx, addr, r.o.DialOptions)
	if err != nil {
		return nil, PeerInfo{}, err
	}
	info, err := p.Info(ctx)
	if err == nil && r.o.Manifest != nil {
		m := r.o.Manifest
		if info.Fragment < 0 || info.Fragment >= len(m.Fragments) || m.Fragments[info.Fragment].SHA256 != info.SHA256 {
			err = fmt.Errorf("transport: %s serves a fragment (sha256 %.12s…) that is not in the manifest", addr, info.SHA256)
		}
	}
	if err != nil {
		p.Close()
		return nil, PeerInfo{}, err
	}
	return p, info, nil
}

// VocabSize is the number of logits per position.
func (r *Route) VocabSize() int { return r.vocab }

// Pos is the number of positions the session holds.
func (r *Route) Pos() int { return r.pos }

// Context is the most positions the session can hold.
func (r *Route) Context() int { return r.context }

// Stats reports what each hop did.
func (r *Route) Stats() []HopStats {
	out := make([]HopStats, len(r.hops))
	for i, h := range r.hops {
		out[i] = h.stats
		out[i].Raw, out[i].Sent = h.c.Raw, h.c.Sent
	}
	return out
}

// Close ends the session on every peer and the connections.
func (r *Route) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, h := range r.hops {
		h.peer.CloseSession(ctx, r.session)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.peers {
		p.Close()
	}
}

// Eval feeds tokens through every hop and writes the logits of the last.
// A prompt is cut into chunks that flow through the hops as a pipeline:
// while one peer computes a chunk, the one before it computes the next.
func (r *Route) Eval(logits []float32, tokens []int32) error {
	if r.pos+len(tokens) > r.context {
		return fmt.Errorf("transport: %w: %d positions after %d do not fit the context of %d", engine.ErrContextFull, len(tokens), r.pos, r.context)
	}
	type item struct {
		pos    int
		tokens []int32
		hidden []float32
	}
	needs := r.needs
	r.needs = engine.LogitsNeeds{}
	if len(tokens) <= r.o.Chunk {
		return r.evalOne(logits, tokens, needs)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	var first sync.Once
	var failure error
	fail := func(err error) {
		first.Do(func() { failure = err; cancel() })
	}
	chunks := make(chan item, len(r.hops)+1)
	go func() {
		defer close(chunks)
		for i := 0; i < len(tokens); i += r.o.Chunk {
			chunks <- item{pos: r.pos + i, tokens: tokens[i:min(i+r.o.Chunk, len(tokens))]}
		}
	}()
	var in <-chan item = chunks
	var wg sync.WaitGroup
	for hi, h := range r.hops {
		out := make(chan item, 2)
		wg.Add(1)
		go func(src <-chan item, dst chan<- item) {
			defer wg.Done()
			defer close(dst)
			for it := range src {
				n := len(it.tokens)
				req := &ForwardRequest{Session: r.session, Pos: it.pos, N: n}
				if hi == 0 {
					req.Tokens = it.tokens
				} else {
					req.Hidden = it.hidden
					n = len(it.hidden) / r.embd
					req.N = n
				}
				size := n * r.embd
				if hi == len(r.hops)-1 {
					size = r.vocab
					req.Needs = needs
				}
				res := make([]float32, size)
				if err := r.send(ctx, hi, h.c.encodeForward(req, r.o.Wire), res); err != nil {
					fail(err)
					for range src { // let the stages before finish
					}
					return
				}
				dst <- item{pos: it.pos, hidden: res}
			}
		}(in, out)
		in = out
	}
	var last []float32
	for it := range in {
		last = it.hidden
	}
	wg.Wait()
	if failure != nil {
		return failure
	}
	copy(logits, last)
	r.pos += len(tokens)
	return nil
}

// evalOne runs a single chunk (every decode step) through the hops in the
// caller's goroutine: nothing to pipeline, so no hand-offs.
func (r *Route) evalOne(logits []float32, tokens []int32, needs engine.LogitsNeeds) error {
	req := &ForwardRequest{Session: r.session, Pos: r.pos, N: len(tokens), Tokens: tokens}
	for hi, h := range r.hops {
		var out []float32
		if hi < len(r.hops)-1 {
			out = make([]float32, len(tokens)*r.embd) // hidden states for the next hop
		} else {
			out = logits[:r.vocab]
			req.Needs = needs
		}
		if err := r.send(r.ctx, hi, h.c.encodeForward(req, r.o.Wire), out); err != nil {
			return err
		}
		req = &ForwardRequest{Session: r.session, Pos: r.pos, N: len(tokens), Hidden: out}
	}
	r.pos += len(tokens)
	return nil
}

// send runs one request on hop hi. When the peer is gone, a replica of
// the same layers takes over: it is given the session's history, the
// very requests the hop acknowledged, then this one.
func (r *Route) send(ctx context.Context, hi int, payload []byte, out []float32) error {
	h := r.hops[hi]
	for attempt := 0; ; attempt++ {
		start := time.Now()
		compute, err := h.peer.forward(ctx, payload, out)
		if err == nil {
			h.sent = append(h.sent, payload)
			h.stats.Forwards++
			h.stats.Compute += compute
			h.stats.Wall += time.Since(start)
			return nil
		}
		if !peerFailed(err) || ctx.Err() != nil || attempt >= 3 {
			return err
		}
		r.o.Logger.Warn("peer failed; moving its layers to a replica", "peer", h.peer.Addr,
			"layers", fmt.Sprintf("%d-%d", h.start, h.end-1), "err", err)
		if err := r.replace(ctx, hi); err != nil {
			return err
		}
	}
}

// replace finds another peer serving hop hi's layers, trying every listed
// address (peers restart) and the failed one last, and replays the
// session's history on it.
func (r *Route) replace(ctx context.Context, hi int) error {
	h := r.hops[hi]
	dead := h.peer.Addr
	r.mu.Lock()
	if p := r.peers[dead]; p != nil {
		p.Close()
		delete(r.peers, dead)
	}
	r.mu.Unlock()
	order := make([]string, 0, len(r.addrs))
	for _, a := range r.addrs {
		if a != dead {
			order = append(order, a)
		}
	}
	order = append(order, dead)
	var errs []error
	for _, a := range order {
		r.mu.Lock()
		p := r.peers[a]
		r.mu.Unlock()
		var info PeerInfo
		var err error
		if p != nil {
			info, err = p.Info(ctx)
		} else {
			p, info, err = r.connect(a)
			if err == nil {
				r.mu.Lock()
				r.peers[a] = p
				r.mu.Unlock()
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if info.Start != h.start || info.End != h.end || info.SHA256 != h.info.SHA256 {
			continue
		}
		if err := r.replay(ctx, p, h); err != nil {
			errs = append(errs, err)
			continue
		}
		h.peer, h.info = p, info
		h.stats.Addr, h.stats.ID, h.stats.Backend, h.stats.Device = p.Addr, p.ID, info.Backend, info.Device
		h.stats.Replaced++
		r.o.Logger.Warn("replica took over", "peer", a, "layers", fmt.Sprintf("%d-%d", h.start, h.end-1), "replayed", len(h.sent))
		return nil
	}
	return fmt.Errorf("transport: no live peer serves layers %d-%d: %w", h.start, h.end-1, errors.Join(errs...))
}

// replay sends a hop's history to a new peer; the outputs are the ones
// the old peer gave, so they are dropped.
func (r *Route) replay(ctx context.Context, p *Peer, h *hop) error {
	var out []float32
	for _, payload := range h.sent {
		n := int(binary.LittleEndian.Uint32(payload[12:]))
		size := n * r.embd
		if h.end == r.hops[len(r.hops)-1].end {
			size = r.vocab
			if payload[16]&flagAllLogits != 0 {
				size = n * r.vocab
			}
		}
		if cap(out) < size {
			out = make([]float32, size)
		}
		if _, err := p.forward(ctx, payload, out[:size]); err != nil {
			return fmt.Errorf("transport: replay on %s: %w", p.Addr, err)
		}
	}
	return nil
}
