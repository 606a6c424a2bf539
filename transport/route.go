package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
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
	// Model, when set, is the model the peers must serve (the
	// coordinator's copy of the first fragment says what it is): a peer
	// that reports other layers, width or vocabulary is refused.
	Model *engine.Config
	// ModelSHA256, when set, is the sha256 of the model file the peers'
	// layers must come from (PeerInfo.ModelSHA256).
	ModelSHA256 string
	// Chunk is the batch size of prompt pipelining (default 64).
	Chunk int
	// Timeout is the floor of every request's deadline (default 2 s). A
	// request may take Timeout plus 8 times what the hop took so far for
	// that many positions; a hop that has not answered yet gets
	// FirstTimeout plus a quarter second per position (default 30 s: a
	// fresh peer may be reading its weights from disk). A peer that
	// misses a deadline is suspect, and a replica takes over exactly as
	// for a dead one.
	Timeout      time.Duration
	FirstTimeout time.Duration
	// Observe, if set, sees what each hop returned for positions [pos,
	// pos+n): hidden states (n × embedding), or the last hop's logits
	// (strata verify compares them with the exact pass). It must not
	// keep out; during a prompt, the hops call it at once from their own
	// goroutines.
	Observe func(hop, pos int, out []float32)
	// VerifyRate, between 0 and 1, is the share of each hop's forwards
	// recomputed by a witness and compared before their output is used:
	// the first always, then at random. The witness is the fragment
	// Witness returns for the hop's sha256 (computed here, trusted: a peer
	// that disagrees with it loses its layers to a replica, exactly as a
	// dead one), or else a replica peer (a disagreement fails the
	// generation, naming both). A witness computes every position of its
	// hop: a local one catches up between checks on a goroutine of its own,
	// and computes a checked request beside the peer.
	VerifyRate float64
	Witness    func(sha256 string) (*engine.Fragment, error)
	Logger     *slog.Logger
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
	TimedOut int           `json:"timed_out"`  // requests that missed their deadline
	Checked  int           `json:"checked"`    // forwards a witness recomputed
	// Mismatched counts the checks the serving peer failed.
	Mismatched int `json:"mismatched"`
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

	*pool            // shared with the other routes of a Group
	rng   *rand.Rand // which forwards are checked; guarded by mu
	hops  []*hop
	needs engine.LogitsNeeds // for the next Eval
	group *Group             // the Group it belongs to, if any
	// tokens are the session's tokens, positions [0, pos): what a rebuilt
	// route computes again.
	tokens  []int32
	rebuilt int // times the route was rebuilt
}

// A pool is the connections of a route, or of the routes of a Group,
// which share them, and what was learned of each peer.
type pool struct {
	mu      sync.Mutex // guards what follows
	peers   map[string]*Peer
	suspect map[string]int // missed deadlines, by address: tried last
	closed  bool
	users   int // routes not closed yet: the last to close closes the peers
	// computing serializes the witnesses computing on one local
	// fragment (the routes of a Group may share it), by fragment.
	computing map[*engine.Fragment]*sync.Mutex
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
	// perPosition is the moving average of the wall time per position on
	// this hop, for one position (decode) and for more (prompt chunks):
	// what the next deadline is made from. Zero until the hop answers.
	perPosition [2]time.Duration
	witness     *witness
	unwitnessed bool // said once that no witness could be found
	checkNext   bool // the next forward is to be checked (drawCheck)
}

var _ engine.NeedsStack = (*Route)(nil)

// NeedLogits makes the next Eval carry only the logits the sampler will
// look at: the last peer sends those, not the whole vocabulary.
func (r *Route) NeedLogits(n engine.LogitsNeeds) { r.needs = n }

// ErrNoRoute reports peers that do not cover every layer.
var ErrNoRoute = errors.New("transport: no route covers every layer")

// NewRoute connects to the peers, asks each what it serves, and chains
// those that cover the model's layers, preferring peers in the order
// given. The others are kept as replicas. Peers that refuse this node's
// swarm secret are named in one error that wraps ErrRefused (alone when
// every peer refused).
func NewRoute(ctx context.Context, addrs []string, o RouteOptions) (*Route, error) {
	if o.Chunk <= 0 {
		o.Chunk = 64
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.FirstTimeout <= 0 {
		o.FirstTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if !(o.VerifyRate >= 0 && o.VerifyRate <= 1) {
		return nil, fmt.Errorf("transport: a verify rate of %v: want 0 to 1", o.VerifyRate)
	}
	r := &Route{o: o, ctx: ctx, addrs: addrs, session: rand.Uint64(),
		pool: &pool{peers: map[string]*Peer{}, suspect: map[string]int{}, users: 1},
		rng:  rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	infos := map[string]PeerInfo{}
	var errs []error
	var refused []string // the peers that refused this node's swarm secret
	for i, res := range r.connectAll(addrs) {
		switch {
		case errors.Is(res.err, ErrRefused):
			refused = append(refused, addrs[i])
		case res.err != nil:
			errs = append(errs, res.err)
		default:
			r.peers[addrs[i]] = res.peer
			infos[addrs[i]] = res.info
		}
	}
	if len(refused) > 0 {
		// Said once for all of them: the secret is this node's.
		err := fmt.Errorf("transport: %s: %w", strings.Join(refused, ", "), ErrRefused)
		if len(refused) == len(addrs) {
			return nil, err
		}
		errs = append(errs, err)
	}
	// Chain the peers, each starting where the one before ends; every hop
	// must describe the same model as the first.
	var model *PeerInfo
	for next := 0; model == nil || next != model.Layers; {
		var found *hop
		for _, a := range addrs {
			info, ok := infos[a]
			if !ok || info.Start != next {
				continue
			}
			if model != nil && !sameModel(*model, info) {
				errs = append(errs, fmt.Errorf("transport: %s (%.12s) serves %s, unlike %s: refusing to route through it", a, info.ID, describe(info), describe(*model)))
				delete(infos, a)
				continue
			}
			found = &hop{start: info.Start, end: info.End, peer: r.peers[a], info: info, c: newCompressor()}
			break
		}
		if found == nil {
			r.closePeers()
			var served []string
			for _, a := range addrs {
				if info, ok := infos[a]; ok {
					served = append(served, fmt.Sprintf("%s serves layers %d-%d", a, info.Start, info.End-1))
				}
			}
			if len(errs) == 0 {
				return nil, fmt.Errorf("%w: nothing serves layer %d (%s)", ErrNoRoute, next, strings.Join(served, ", "))
			}
			if len(served) > 0 {
				return nil, fmt.Errorf("%w: nothing serves layer %d (%s; %w)", ErrNoRoute, next, strings.Join(served, ", "), errors.Join(errs...))
			}
			return nil, fmt.Errorf("%w: nothing serves layer %d (%w)", ErrNoRoute, next, errors.Join(errs...))
		}
		if model == nil {
			model = &found.info
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

// connect dials a peer and checks what it says it serves.
func (r *Route) connect(addr string) (*Peer, PeerInfo, error) {
	ctx, cancel := context.WithTimeout(r.ctx, 3*time.Second)
	defer cancel()
	p, err := Dial(ctx, addr, r.o.DialOptions)
	if err != nil {
		return nil, PeerInfo{}, err
	}
	info, err := p.Info(ctx)
	if err == nil {
		err = r.checkInfo(addr, info)
	}
	if err != nil {
		p.Close()
		return nil, PeerInfo{}, err
	}
	return p, info, nil
}

type connected struct {
	peer *Peer
	info PeerInfo
	err  error
}

// connectAll connects to the peers at once: a dead one costs its dial
// timeout once, not once per peer.
func (r *Route) connectAll(addrs []string) []connected {
	out := make([]connected, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			p, info, err := r.connect(a)
			out[i] = connected{p, info, err}
		})
	}
	wg.Wait()
	return out
}

// keep connects to a peer and keeps the connection for the route.
func (r *Route) keep(addr string) connected {
	p, info, err := r.connect(addr)
	if err != nil {
		return connected{err: err}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		p.Close()
		return connected{err: fmt.Errorf("transport: the route is closed")}
	}
	if live := r.peers[addr]; live != nil {
		// Another hop dialed it meanwhile, and may have replayed a history
		// there: keep that connection.
		p.Close()
		return connected{live, info, nil}
	}
	r.peers[addr] = p
	return connected{p, info, nil}
}

// checkInfo refuses a peer whose description of itself is impossible, or
// disagrees with the manifest or the model: it is never routed through.
func (r *Route) checkInfo(addr string, info PeerInfo) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("transport: %s (%.12s) %s: refusing to route through it", addr, info.ID, fmt.Sprintf(format, args...))
	}
	switch {
	case info.Layers <= 0 || info.Layers > engine.MaxLayers:
		return bad("reports a model of %d layers (1 to %d)", info.Layers, engine.MaxLayers)
	case info.Start < 0 || info.End <= info.Start || info.End > info.Layers:
		return bad("reports layers %d to %d of %d, not a range of them", info.Start, info.End-1, info.Layers)
	case info.Embedding <= 0 || info.Embedding > engine.MaxEmbedding:
		return bad("reports a width of %d (1 to %d)", info.Embedding, engine.MaxEmbedding)
	case info.Vocab <= 0 || info.Vocab > engine.MaxVocab:
		return bad("reports a vocabulary of %d (1 to %d)", info.Vocab, engine.MaxVocab)
	case info.MaxContext <= 0 || info.MaxContext > maxContext:
		return bad("reports a context of %d positions (1 to %d)", info.MaxContext, maxContext)
	}
	if want := r.o.ModelSHA256; want != "" && info.ModelSHA256 != want {
		return fmt.Errorf("transport: %s (%.12s) serves layers of a model file of sha256 %.12s…, not this one (%.12s…): refusing to route through it",
			addr, info.ID, info.ModelSHA256, want)
	}
	if m := r.o.Manifest; m != nil && info.SHA256 == "" {
		// Layers of a whole model file: the file the manifest was split from.
		if info.ModelSHA256 == "" || info.ModelSHA256 != m.Source.SHA256 {
			return fmt.Errorf("transport: %s serves layers of a model file (sha256 %.12s…) that is not the manifest's source (%.12s…)", addr, info.ModelSHA256, m.Source.SHA256)
		}
		if info.Layers != m.Layers {
			return bad("reports a model of %d layers, but the manifest's has %d", info.Layers, m.Layers)
		}
	} else if m != nil {
		if info.Fragment < 0 || info.Fragment >= len(m.Fragments) || m.Fragments[info.Fragment].SHA256 != info.SHA256 {
			return fmt.Errorf("transport: %s serves a fragment (sha256 %.12s…) that is not in the manifest", addr, info.SHA256)
		}
		if f := m.Fragments[info.Fragment]; info.Layers != m.Layers || info.Start != f.Start || info.End != f.End {
			return bad("reports layers %d-%d of %d, but fragment %d of the manifest is layers %d-%d of %d",
				info.Start, info.End-1, info.Layers, info.Fragment, f.Start, f.End-1, m.Layers)
		}
	}
	if c := r.o.Model; c != nil && (info.Layers != c.Layers || info.Embedding != c.Embedding || info.Vocab != c.Vocab) {
		return bad("serves %s, but the model has %d layers, width %d and %d tokens", describe(info), c.Layers, c.Embedding, c.Vocab)
	}
	return nil
}

// maxContext bounds the context a peer may report.
const maxContext = 1 << 24

// sameModel reports whether two peers describe the same model: the same
// shape, and the same model file where both name theirs.
func sameModel(a, b PeerInfo) bool {
	return a.Layers == b.Layers && a.Embedding == b.Embedding && a.Vocab == b.Vocab && a.Architecture == b.Architecture &&
		(a.ModelSHA256 == "" || b.ModelSHA256 == "" || a.ModelSHA256 == b.ModelSHA256)
}

// sameLayers reports whether b computes what a does: the same layers of
// the same model, from the same fragment file or the same model file.
func sameLayers(a, b PeerInfo) bool {
	return a.Start == b.Start && a.End == b.End && sameModel(a, b) &&
		(a.SHA256 == b.SHA256 || a.ModelSHA256 != "" && a.ModelSHA256 == b.ModelSHA256)
}

func describe(i PeerInfo) string {
	return fmt.Sprintf("%s of %d layers, width %d and %d tokens", i.Architecture, i.Layers, i.Embedding, i.Vocab)
}

// closePeers closes every connection, once no route uses them.
func (r *Route) closePeers() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users--; r.users > 0 {
		return
	}
	r.closed = true
	for _, p := range r.peers {
		p.Close()
	}
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
	r.caughtUp() // the witnesses' fragments are the caller's once Close returns
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, h := range r.hops {
		h.peer.CloseSession(ctx, r.session)
	}
	r.closePeers()
}

// Eval feeds tokens through every hop and writes the logits of the last.
// A prompt is cut into chunks that flow through the hops as a pipeline:
// while one peer computes a chunk, the one before it computes the next.
// When a hop's layers are served by no peer any more (they died, or were
// reassigned other layers), the route is rebuilt from what the peers
// serve now (see rebuild), and the tokens go through it.
func (r *Route) Eval(logits []float32, tokens []int32) error {
	needs := r.needs
	err := r.eval(logits, tokens)
	if err != nil && errors.Is(err, errNoReplica) && r.ctx.Err() == nil {
		if rerr := r.rebuild(); rerr != nil {
			return fmt.Errorf("%w; rebuilding the route: %w", err, rerr)
		}
		r.needs = needs
		err = r.eval(logits, tokens)
	}
	if err == nil {
		r.tokens = append(r.tokens, tokens...)
	}
	return err
}

func (r *Route) eval(logits []float32, tokens []int32) error {
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
				req := &ForwardRequest{Session: r.session, Pos: it.pos, N: n, Start: h.start, End: h.end}
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
				if r.o.Observe != nil {
					r.o.Observe(hi, it.pos, res)
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
		req.Start, req.End = h.start, h.end
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
		if r.o.Observe != nil {
			r.o.Observe(hi, r.pos, out)
		}
		req = &ForwardRequest{Session: r.session, Pos: r.pos, N: len(tokens), Hidden: out}
	}
	r.pos += len(tokens)
	return nil
}

// send runs one request on hop hi, within a deadline made from what the
// hop took so far. When the peer is gone, busy or late, a replica of the
// same layers takes over: it is given the session's history, the very
// requests the hop acknowledged, then this one.
func (r *Route) send(ctx context.Context, hi int, payload []byte, out []float32) error {
	h := r.hops[hi]
	f, err := parseForward(payload)
	if err != nil {
		return err
	}
	recheck := false // a replica that replaces a peer caught by a check is checked too
	for attempt := 0; ; attempt++ {
		start := time.Now()
		// A checked request's witness computes beside the peer; the
		// output is used only once the two agree.
		var expected <-chan expectation
		if recheck || r.checkDue(h) {
			expected = r.expect(ctx, hi, append(h.sent[:len(h.sent):len(h.sent)], payload))
		}
		compute, err := r.forward(ctx, h, h.peer, f.n, payload, out)
		if expected != nil {
			e := <-expected
			if err == nil {
				err = r.verdict(hi, e, out)
				if err != nil && !errors.Is(err, ErrMismatch) {
					return err // no verdict: the peers disagree
				}
			}
		}
		if err == nil {
			wall := time.Since(start)
			h.acknowledged(payload, f.n, compute, wall, wall)
			if r.o.VerifyRate > 0 {
				r.catchUp(h, r.drawCheck(h))
			}
			return nil
		}
		if !peerFailed(err) || ctx.Err() != nil || attempt >= 3 {
			return err
		}
		why, blamed := "peer failed; moving its layers to a replica", misbehaved(err)
		if blamed {
			why = "peer misbehaved; moving its layers to a replica"
			if errors.Is(err, context.DeadlineExceeded) {
				h.stats.TimedOut++
			}
			r.mu.Lock()
			r.suspect[h.peer.Addr]++
			r.mu.Unlock()
		}
		recheck = errors.Is(err, ErrMismatch)
		r.o.Logger.Warn(why, "peer", h.peer.Addr, "layers", fmt.Sprintf("%d-%d", h.start, h.end-1), "err", err)
		if rerr := r.replace(ctx, hi, blamed, errors.Is(err, ErrBusy) || errors.Is(err, ErrMoved)); rerr != nil {
			return fmt.Errorf("%w (%s: %w)", rerr, h.peer.Addr, err)
		}
	}
}

// acknowledged records a request of n positions the hop answered in
// wall time: it joins the session's history, the wall time per position
// makes the next deadlines, and compute and spent (this session's share
// of the peer's compute and of the wall time) go to the stats.
func (h *hop) acknowledged(payload []byte, n int, compute, spent, wall time.Duration) {
	h.sent = append(h.sent, payload)
	h.stats.Forwards++
	h.stats.Compute += compute
	h.stats.Wall += spent
	per, slot := wall/time.Duration(n), min(n-1, 1)
	if old := h.perPosition[slot]; old > 0 {
		per = old + (per-old)/4 // a moving average: a cold first request fades
	}
	h.perPosition[slot] = per
}

// forward sends one request of n positions to p for hop h, within its
// deadline.
func (r *Route) forward(ctx context.Context, h *hop, p *Peer, n int, payload []byte, out []float32) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, r.deadline(h, p, n))
	defer cancel()
	compute, err := p.forward(ctx, payload, out)
	if err != nil && (ctx.Err() == context.DeadlineExceeded || errors.Is(err, os.ErrDeadlineExceeded)) {
		err = fmt.Errorf("transport: %s did not answer a batch of %d positions within %v: %w", p.Addr, n, r.deadline(h, p, n), context.DeadlineExceeded)
	}
	return compute, err
}

// deadline is how long a request of n positions to p may take on hop h:
// the floor plus eight times what the hop took so far, or, for a peer
// that has not answered on this hop yet, the first timeout.
func (r *Route) deadline(h *hop, p *Peer, n int) time.Duration {
	per := h.perPosition[min(n-1, 1)]
	if n > 1 && per == 0 {
		per = h.perPosition[0] // a prompt chunk costs at most a decode step per position
	}
	if p != h.peer || per == 0 {
		return r.o.FirstTimeout + time.Duration(n)*250*time.Millisecond
	}
	return r.o.Timeout + 8*time.Duration(n)*per
}

// misbehaved reports whether a peer's failure is its own doing (late, or
// a reply that breaks the protocol), as opposed to the peer going away.
func misbehaved(err error) bool {
	for _, e := range []error{context.DeadlineExceeded, ErrMalformed, ErrOversized, ErrChecksum, ErrMismatch} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// replace finds another peer serving hop hi's layers, trying every listed
// address (peers restart), suspects after the others and the failed one
// last (unless it misbehaved: then it is not tried again now), and
// replays the session's history on it.
//
// A busy peer's connection is kept when other routes of a group share
// it: closing it would end their sessions there too.
func (r *Route) replace(ctx context.Context, hi int, blamed, busy bool) error {
	h := r.hops[hi]
	dead := h.peer.Addr
	r.mu.Lock()
	if p := r.peers[dead]; p != nil && p == h.peer && !(busy && r.users > 1) { // another route may have dialed it again
		p.Close()
		delete(r.peers, dead)
	}
	var order []string
	for _, a := range r.addrs {
		if a != dead {
			order = append(order, a)
		}
	}
	slices.SortStableFunc(order, func(a, b string) int { return r.suspect[a] - r.suspect[b] })
	// Dial the peers not connected all at once; each is waited for only
	// when its turn comes. The failed one is dialed last, alone.
	dialing := map[string]chan connected{}
	for _, a := range order {
		if r.peers[a] == nil {
			ch := make(chan connected, 1)
			dialing[a] = ch
			go func() { ch <- r.keep(a) }()
		}
	}
	r.mu.Unlock()
	if !blamed {
		order = append(order, dead)
	}
	var errs []error
	for _, a := range order {
		var c connected
		if ch, ok := dialing[a]; ok {
			c = <-ch
		} else {
			r.mu.Lock()
			p := r.peers[a]
			r.mu.Unlock()
			if p == nil {
				c = r.keep(a)
			} else {
				ictx, cancel := context.WithTimeout(ctx, 3*time.Second)
				info, err := p.Info(ictx)
				cancel()
				c = connected{p, info, err}
			}
		}
		p, info, err := c.peer, c.info, c.err
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !sameLayers(h.info, info) {
			continue
		}
		if err := r.replay(ctx, p, h); err != nil {
			errs = append(errs, err)
			continue
		}
		h.peer, h.info = p, info
		h.stats.Addr, h.stats.ID, h.stats.Backend, h.stats.Device = p.Addr, p.ID, info.Backend, info.Device
		h.stats.Replaced++
		h.perPosition = [2]time.Duration{}
		r.o.Logger.Warn("replica took over", "peer", a, "layers", fmt.Sprintf("%d-%d", h.start, h.end-1), "replayed", len(h.sent))
		return nil
	}
	if len(errs) == 0 {
		return fmt.Errorf("%w: no other peer serves layers %d-%d", errNoReplica, h.start, h.end-1)
	}
	return fmt.Errorf("%w: no live peer serves layers %d-%d: %w", errNoReplica, h.start, h.end-1, errors.Join(errs...))
}

// replay sends a hop's history to a new peer; the outputs are the ones
// the old peer gave, so they are dropped.
func (r *Route) replay(ctx context.Context, p *Peer, h *hop) error {
	var out []float32
	last := h.end == r.hops[len(r.hops)-1].end
	for _, payload := range h.sent {
		f, err := parseForward(payload)
		if err != nil {
			return err
		}
		size := f.n * r.embd
		switch {
		case last && f.flags&flagAllLogits != 0:
			size = f.n * r.vocab
		case last:
			size = r.vocab
		}
		if cap(out) < size {
			out = make([]float32, size)
		}
		if _, err := r.forward(ctx, h, p, f.n, payload, out[:size]); err != nil {
			return fmt.Errorf("transport: replay on %s: %w", p.Addr, err)
		}
	}
	return nil
}
