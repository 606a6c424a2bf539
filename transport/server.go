package transport

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/sync/semaphore"

	"strata/engine"
)

// PeerInfo is what a peer says about itself.
type PeerInfo struct {
	ID           string `json:"id"`
	Model        string `json:"model"`
	Architecture string `json:"architecture"`
	Layers       int    `json:"layers"`
	Start        int    `json:"start"` // first layer it serves
	End          int    `json:"end"`   // one past the last
	Fragment     int    `json:"fragment"`
	SHA256       string `json:"sha256"` // of its fragment file; "" when it serves a range of a whole model file
	// ModelSHA256 is the sha256 of the whole model file the layers come
	// from (for a fragment file, the manifest's source): every peer of one
	// model reports the same.
	ModelSHA256 string `json:"model_sha256,omitempty"`
	// Holding is the layer ranges whose weights the peer holds, [start,
	// end) each: the one it serves, then those it was reassigned from
	// whose sessions have not ended yet.
	Holding     [][2]int `json:"holding,omitempty"`
	Embedding   int      `json:"embedding"`
	Vocab       int      `json:"vocab"`
	Backend     string   `json:"backend"`
	Device      string   `json:"device"`
	Sessions    int      `json:"sessions"`
	MaxSessions int      `json:"max_sessions"`
	MaxContext  int      `json:"max_context"`
	Forwards    int64    `json:"forwards"`
	Batches     int64    `json:"batches"` // multi-session requests served
	BusyMS      int64    `json:"busy_ms"`
}

// ServerOptions configure a Server. Identity is required; zero values
// elsewhere take the defaults documented on each field, and Validate
// refuses values that cannot work.
type ServerOptions struct {
	Identity *Identity
	Swarm    Swarm
	// MaxSessions bounds the sessions held at once (default 16).
	MaxSessions int
	// SessionsPerIdentity bounds the sessions one identity holds at once
	// (default half of MaxSessions, at least 1), so that one coordinator,
	// or one hostile member, cannot lock the others out.
	SessionsPerIdentity int
	// ConnsPerIdentity bounds the connections one identity holds open at
	// once (default 16).
	ConnsPerIdentity int
	// MaxContext is the positions a session can hold (default 4096).
	MaxContext int
	// Chunk is the most positions computed in one turn of the backend
	// (default 64): a long batch is cut into chunks, and the other
	// sessions' batches take their turns in between, so that one client's
	// prompt delays another's token by at most one chunk.
	Chunk int
	// FrameMemory bounds the bytes lent to requests not yet fully read
	// and to their outputs, all identities together (default 4 ×
	// MaxPayload); one identity may hold at most MaxPayload of it.
	FrameMemory int64
	// ReadTimeout bounds how long a request may take to arrive: its
	// header must come within ReadTimeout of the stream's opening, its
	// payload may stall no longer than ReadTimeout, and must all come
	// within ReadTimeout plus a second per MiB (default 10 s).
	ReadTimeout time.Duration
	// IdleTimeout ends sessions unused for this long (default 10 minutes).
	// A session also ends when the connection that last used it closes.
	IdleTimeout time.Duration
	// Fragment and SHA256 describe the fragment served, for PeerInfo;
	// SHA256 is "" for a range of a whole model file.
	Fragment int
	SHA256   string
	// ModelSHA256 is the sha256 of the whole model file the layers come
	// from (PeerInfo.ModelSHA256).
	ModelSHA256 string
	// Drain is how long sessions opened on a fragment that Reassign
	// replaced may go on with it (default 30 s); then they are ended and
	// the fragment released.
	Drain time.Duration
	// Files maps a sha256 to a verified fragment file this peer hands to
	// peers that fetch it.
	Files map[string]string
	// Logger receives the refused connections (at most one line a
	// second) and the failed requests.
	Logger *slog.Logger
}

// Validate refuses options that cannot work.
func (o *ServerOptions) Validate() error {
	switch {
	case o.Identity == nil:
		return errors.New("transport: a server needs an identity")
	case o.MaxSessions < 0, o.SessionsPerIdentity < 0, o.ConnsPerIdentity < 0, o.MaxContext < 0, o.Chunk < 0,
		o.FrameMemory < 0, o.ReadTimeout < 0, o.IdleTimeout < 0, o.Drain < 0:
		return errors.New("transport: negative server limits")
	case o.SessionsPerIdentity > 0 && o.MaxSessions > 0 && o.SessionsPerIdentity > o.MaxSessions:
		return fmt.Errorf("transport: %d sessions per identity is more than the %d in all", o.SessionsPerIdentity, o.MaxSessions)
	case o.FrameMemory > 0 && o.FrameMemory < MaxPayload:
		return fmt.Errorf("transport: %d bytes of frame memory cannot hold one frame of %d", o.FrameMemory, MaxPayload)
	}
	return nil
}

func (o *ServerOptions) defaults() {
	if o.MaxSessions == 0 {
		o.MaxSessions = 16
	}
	if o.SessionsPerIdentity == 0 {
		o.SessionsPerIdentity = max(1, o.MaxSessions/2)
	}
	if o.ConnsPerIdentity == 0 {
		o.ConnsPerIdentity = 16
	}
	if o.MaxContext == 0 {
		o.MaxContext = 4096
	}
	if o.Chunk == 0 {
		o.Chunk = 64
	}
	if o.FrameMemory == 0 {
		o.FrameMemory = 4 * MaxPayload
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.Drain == 0 {
		o.Drain = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// A Server serves one fragment of a model to authenticated peers: the one
// it was made with, or the one Reassign gave it last.
type Server struct {
	model engine.Config // of every fragment it serves
	o     ServerOptions
	// turn lets one chunk at a time onto the backend; waiters are served
	// in the order they came.
	turn    *semaphore.Weighted
	refused rateLimitedLog
	clock   func() time.Time
	running sync.WaitGroup // the connections and requests being served

	mu       sync.Mutex // guards what follows
	cur      *serving   // what new sessions open on
	held     []*serving // cur, then the fragments replaced whose sessions go on
	sessions map[sessionKey]*serverSession
	conns    map[string]int // open connections per identity
	open     map[uint64]*quic.Conn
	lent     map[string]int64 // frame memory per identity
	lentAll  int64
	nextConn uint64
	forwards int64
	batches  int64 // multi-session requests
	busy     time.Duration
}

// Sessions belong to the identity that opened them: a peer cannot reach
// another's session even if it guesses its number.
type sessionKey struct {
	owner string
	id    uint64
}

type serverSession struct {
	s      *engine.Session
	on     *serving // the fragment it computes on
	used   time.Time
	conn   uint64 // the connection that last used it; the session ends with it
	active bool   // a request is running on it
	orphan bool   // its connection closed while a request ran: end it after
	// step holds a decode step's output between requests (the logits of
	// the last fragment, 4·vocab bytes), so that decoding allocates no
	// output and makes no garbage to collect; it is the session's, next to
	// a KV cache many times its size.
	step []float32
}

// output returns a buffer for req's output on frag: the session's own
// for one position's worth or less (the server runs one request of a
// session at a time), a new one for a longer batch.
func (ss *serverSession) output(frag *engine.Fragment, req *ForwardRequest) []float32 {
	n, one := frag.OutputSize(req.N, req.AllLogits), frag.OutputSize(1, true)
	if n > one {
		return make([]float32, n)
	}
	if len(ss.step) != one {
		ss.step = make([]float32, one)
	}
	return ss.step[:n]
}

// NewServer serves frag. It fails only on options Validate refuses.
func NewServer(frag *engine.Fragment, o ServerOptions) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o.defaults()
	cur := &serving{frag: frag, fragment: o.Fragment, sha256: o.SHA256}
	return &Server{
		model: frag.Config, cur: cur, held: []*serving{cur}, o: o, turn: semaphore.NewWeighted(1), clock: time.Now,
		refused:  rateLimitedLog{every: time.Second},
		sessions: map[sessionKey]*serverSession{}, conns: map[string]int{}, lent: map[string]int64{},
		open: map[uint64]*quic.Conn{},
	}, nil
}

// Listen opens a QUIC listener for a node.
func Listen(addr string, id *Identity) (*quic.Listener, error) {
	ln, err := quic.ListenAddr(addr, tlsConfig(id, true), quicConfig())
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve accepts connections until ctx ends, then returns once the
// requests being computed have stopped (at their next chunk); or until
// the listener fails.
func (s *Server) Serve(ctx context.Context, ln *quic.Listener) error {
	go s.evictIdle(ctx)
	go s.watchSuspension(ctx)
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				// The connections close with ctx; a request being computed
				// stops at its next chunk. The fragment is in use until then.
				s.running.Wait()
				return nil
			}
			return fmt.Errorf("transport: accept: %w", err)
		}
		s.running.Go(func() { s.serveConn(ctx, conn) })
	}
}

// serveConn authenticates a connection, then answers its streams. When
// the connection closes, the sessions it last used end with it.
func (s *Server) serveConn(ctx context.Context, conn *quic.Conn) {
	peer, err := authenticate(ctx, conn, s.o.Identity, s.o.Swarm, true)
	if err != nil {
		s.refused.warn(s.o.Logger, s.clock(), "refused a connection", "from", conn.RemoteAddr().String(), "err", err)
		conn.CloseWithError(refusedCode, "authentication failed")
		return
	}
	owner := keyID(peer)
	id, err := s.openConn(owner, conn)
	if err != nil {
		s.refused.warn(s.o.Logger, s.clock(), "refused a connection", "from", conn.RemoteAddr().String(), "peer", owner[:12], "err", err)
		conn.CloseWithError(2, err.Error())
		return
	}
	defer s.closeConn(owner, id)
	stop := context.AfterFunc(ctx, func() { conn.CloseWithError(0, "peer stopping") })
	defer stop()
	c := newCompressor()
	var cmu sync.Mutex // the compressor serves one stream at a time
	for {
		stream, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		// The stream's context ends when the client gives up on the request
		// (or the connection goes): a long batch stops at the next chunk.
		s.running.Go(func() { s.serveStream(stream.Context(), stream, owner, id, c, &cmu) })
	}
}

// serveStream answers one request. A malformed request gets an error
// frame and ends its stream; the connection and the server go on.
func (s *Server) serveStream(ctx context.Context, stream *quic.Stream, owner string, conn uint64, c *compressor, cmu *sync.Mutex) {
	defer stream.Close()
	fail := func(t FrameType, err error) {
		s.o.Logger.Warn("request refused", "peer", owner[:12], "err", err)
		WriteFrame(stream, t, []byte(err.Error()))
		stream.CancelRead(1)
	}
	stream.SetReadDeadline(s.clock().Add(s.o.ReadTimeout))
	t, n, sum, err := readHeader(stream, MaxPayload)
	if err != nil {
		fail(FrameError, err)
		return
	}
	release, err := s.lend(owner, int64(n))
	if err != nil {
		fail(FrameBusy, err)
		return
	}
	defer release()
	payload, err := readPayload(&stalledReader{stream: stream, idle: s.o.ReadTimeout,
		end: s.clock().Add(s.o.ReadTimeout + time.Duration(n)*time.Second>>20)}, t, n, sum, nil)
	if err != nil {
		fail(FrameError, err)
		return
	}
	stream.SetWriteDeadline(s.clock().Add(s.o.ReadTimeout))
	switch t {
	case FrameInfo:
		b, _ := json.Marshal(s.Info())
		WriteFrame(stream, FrameInfo, b)
	case FramePing:
		WriteFrame(stream, FramePing, payload)
	case FrameForward, FrameForwardMany:
		forward := s.forward
		if t == FrameForwardMany {
			forward = s.forwardMany
		}
		out, err := forward(ctx, owner, conn, payload, c, cmu)
		if err != nil {
			kind := FrameError
			switch {
			case errors.Is(err, ErrMoved):
				kind = FrameMoved
			case errors.Is(err, ErrBusy):
				kind = FrameBusy
			}
			fail(kind, err)
			return
		}
		stream.SetWriteDeadline(s.clock().Add(s.o.ReadTimeout + time.Duration(len(out))*time.Second>>20))
		if err := WriteFrame(stream, FrameResult, out); err != nil {
			s.o.Logger.Warn("result not delivered", "peer", owner[:12], "err", err)
		}
	case FrameClose:
		if len(payload) == 8 {
			s.closeSession(sessionKey{owner, binary.LittleEndian.Uint64(payload)})
		}
		WriteFrame(stream, FrameEnd, nil)
	case FrameFetch:
		stream.SetWriteDeadline(time.Time{}) // a file takes as long as it takes; the client bounds it
		s.sendFile(stream, payload)
	default:
		fail(FrameError, fmt.Errorf("transport: unexpected %d frame", t))
	}
}

// A stalledReader reads a request's payload, giving up when the stream
// stalls for idle, or when the whole payload has not come by end.
type stalledReader struct {
	stream *quic.Stream
	idle   time.Duration
	end    time.Time
}

func (r *stalledReader) Read(b []byte) (int, error) {
	deadline := time.Now().Add(r.idle)
	if deadline.After(r.end) {
		deadline = r.end
	}
	r.stream.SetReadDeadline(deadline)
	return r.stream.Read(b)
}

// Info describes the peer.
func (s *Server) Info() PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, f := s.model, s.cur.frag
	return PeerInfo{
		ID: s.o.Identity.ID(), Model: c.Name, Architecture: c.Architecture, Layers: c.Layers,
		Start: f.Start, End: f.End, Fragment: s.cur.fragment, SHA256: s.cur.sha256, ModelSHA256: s.o.ModelSHA256,
		Holding:   s.holding(),
		Embedding: c.Embedding, Vocab: c.Vocab, Backend: f.Backend().Name(), Device: f.Backend().Device(),
		Sessions: len(s.sessions), MaxSessions: s.o.MaxSessions, MaxContext: s.o.MaxContext,
		Forwards: s.forwards, Batches: s.batches, BusyMS: s.busy.Milliseconds(),
	}
}

// forward runs one batch and encodes its output.
func (s *Server) forward(ctx context.Context, owner string, conn uint64, payload []byte, c *compressor, cmu *sync.Mutex) ([]byte, error) {
	head, err := parseForward(payload)
	if err != nil {
		return nil, err
	}
	if head.n <= 0 || head.n > s.o.MaxContext {
		return nil, fmt.Errorf("%w: batch of %d positions (1 to %d)", ErrMalformed, head.n, s.o.MaxContext)
	}
	// What decoding and computing the request take beyond its frame: the
	// body inflated and widened to float32, and the output, twice (values
	// and encoded), lent before any of it is allocated (bounded by the
	// larger of a hidden state and the logits: which the request gets is
	// known once its session is).
	out := max(head.n*s.model.Embedding, s.model.Vocab)
	if head.flags&flagAllLogits != 0 {
		out = head.n * max(s.model.Embedding, s.model.Vocab)
	}
	need := int64(head.n)*int64(s.model.Embedding)*8 + 8*int64(out)
	release, err := s.lendWork(owner, min(need, MaxPayload))
	if err != nil {
		return nil, err
	}
	defer release()
	cmu.Lock()
	req, err := c.decodeForward(payload, s.model.Embedding, s.o.MaxContext)
	cmu.Unlock()
	if err != nil {
		return nil, err
	}
	ss, err := s.openSession(sessionKey{owner, req.Session}, conn, req)
	if err != nil {
		return nil, err
	}
	defer s.finishSession(sessionKey{owner, req.Session}, ss)
	frag := ss.on.frag
	fields, _ := parseForward(payload) // decodeForward has checked it
	if err := checkResultSize(frag, req, fields.wire()); err != nil {
		return nil, err
	}
	res := ss.output(frag, req)
	took, err := s.run(ctx, res, ss.s, req)
	if err != nil {
		return nil, err
	}
	compute := uint32(min(took.Microseconds(), 1<<32-1))
	if frag.Last() && !req.AllLogits && req.Needs.TopK > 0 {
		return encodeSparse(chooseLogits(res, req.Needs), res, compute), nil
	}
	cmu.Lock()
	defer cmu.Unlock()
	return c.encodeResult(res, fields.wire(), frag.Last(), compute), nil
}

// takeTurn runs compute as one turn of the backend, waiting for the turns
// before it, and counts its time as busy. It returns that time, or an
// error when ctx ends first (the client went away) or compute fails.
func (s *Server) takeTurn(ctx context.Context, compute func() error) (time.Duration, error) {
	if err := s.turn.Acquire(ctx, 1); err != nil {
		return 0, fmt.Errorf("transport: the client went away: %w", err)
	}
	start := s.clock()
	err := compute()
	t := s.clock().Sub(start)
	s.turn.Release(1)
	s.mu.Lock()
	s.busy += t
	s.mu.Unlock()
	return t, err
}

// checkResultSize refuses, before any work, a request whose result could
// not travel in one frame.
func checkResultSize(frag *engine.Fragment, req *ForwardRequest, w Wire) error {
	if bytes := resultBytes(frag, req, w); resultHeader+bytes > MaxPayload {
		what := "hidden states"
		if frag.Last() {
			what = "logits"
		}
		return fmt.Errorf("transport: the %s of %d positions take %d bytes, more than a frame holds (%d): send fewer positions at once",
			what, req.N, resultHeader+bytes, MaxPayload)
	}
	return nil
}

// resultBytes bounds the size of a request's result body on frag.
func resultBytes(frag *engine.Fragment, req *ForwardRequest, w Wire) int64 {
	switch {
	case frag.Last() && !req.AllLogits && req.Needs.TopK > 0:
		return 8 * int64(min(req.Needs.TopK, frag.Config.Vocab)+len(req.Needs.Also))
	case frag.Last() || w == WireF32:
		return 4 * int64(frag.OutputSize(req.N, req.AllLogits))
	}
	return 2 * int64(frag.OutputSize(req.N, req.AllLogits))
}

// run computes the batch chunk by chunk on the session's fragment, each
// chunk one turn of the backend, and returns the compute time. It stops
// between chunks when ctx ends (the client went away).
func (s *Server) run(ctx context.Context, out []float32, session *engine.Session, req *ForwardRequest) (time.Duration, error) {
	frag := session.Fragment()
	c := &frag.Config
	var took time.Duration
	for done := 0; done < req.N; {
		m := min(s.o.Chunk, req.N-done)
		in := engine.Batch{AllLogits: req.AllLogits}
		if req.Tokens != nil {
			in.Tokens = req.Tokens[done : done+m]
		} else {
			in.Hidden = req.Hidden[done*c.Embedding : (done+m)*c.Embedding]
		}
		dst := out
		switch {
		case !frag.Last():
			dst = out[done*c.Embedding:]
		case req.AllLogits:
			dst = out[done*c.Vocab:]
		}
		t, err := s.takeTurn(ctx, func() error { return frag.Forward(dst, session, in) })
		took += t
		if err != nil {
			return took, err
		}
		done += m
	}
	s.mu.Lock()
	s.forwards++
	s.mu.Unlock()
	return took, nil
}

// chooseLogits returns the ids of the needs.TopK largest logits, in
// engine.TopK's order (the sampler's: ties to the lowest id), then those
// of needs.Also not among them, each id once.
func chooseLogits(logits []float32, needs engine.LogitsNeeds) []int32 {
	ids := engine.TopK(make([]int32, 0, min(max(needs.TopK, 0), len(logits))+len(needs.Also)), logits, needs.TopK)
	if len(needs.Also) == 0 {
		return ids // greedy decoding's case: no vocabulary-sized set to clear a token
	}
	chosen := make([]bool, len(logits))
	for _, id := range ids {
		chosen[id] = true
	}
	for _, id := range needs.Also {
		if id >= 0 && int(id) < len(logits) && !chosen[id] {
			chosen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}
