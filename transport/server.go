package transport

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

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
	SHA256       string `json:"sha256"` // of its fragment file
	Embedding    int    `json:"embedding"`
	Vocab        int    `json:"vocab"`
	Backend      string `json:"backend"`
	Device       string `json:"device"`
	Sessions     int    `json:"sessions"`
	MaxSessions  int    `json:"max_sessions"`
	MaxContext   int    `json:"max_context"`
	Forwards     int64  `json:"forwards"`
	BusyMS       int64  `json:"busy_ms"`
}

// ServerOptions configure a Server. Identity is required; zero values
// elsewhere take the defaults documented on each field.
type ServerOptions struct {
	Identity *Identity
	Swarm    Swarm
	// MaxSessions bounds the sessions held at once (default 16).
	MaxSessions int
	// MaxContext is the positions a session can hold (default 4096).
	MaxContext int
	// IdleTimeout ends sessions unused for this long (default 10 minutes).
	IdleTimeout time.Duration
	// Fragment and SHA256 describe the fragment served, for PeerInfo.
	Fragment int
	SHA256   string
	// Files maps a sha256 to a verified fragment file this peer hands to
	// peers that fetch it.
	Files map[string]string
	// Logger receives one line per refused connection and failed request.
	Logger *slog.Logger
}

// A Server serves one fragment of a model to authenticated peers.
type Server struct {
	frag *engine.Fragment
	o    ServerOptions

	mu       sync.Mutex // one batch at a time on the backend
	sessions map[sessionKey]*serverSession
	forwards int64
	busy     time.Duration
	clock    func() time.Time
}

// Sessions belong to the identity that opened them: a peer cannot reach
// another's session even if it guesses its number.
type sessionKey struct {
	owner string
	id    uint64
}

type serverSession struct {
	s    *engine.Session
	used time.Time
}

// NewServer serves frag.
func NewServer(frag *engine.Fragment, o ServerOptions) *Server {
	if o.MaxSessions <= 0 {
		o.MaxSessions = 16
	}
	if o.MaxContext <= 0 {
		o.MaxContext = 4096
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Server{frag: frag, o: o, sessions: map[sessionKey]*serverSession{}, clock: time.Now}
}

// Listen opens a QUIC listener for a node.
func Listen(addr string, id *Identity) (*quic.Listener, error) {
	ln, err := quic.ListenAddr(addr, tlsConfig(id, true), quicConfig())
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve accepts connections until ctx ends or the listener fails.
func (s *Server) Serve(ctx context.Context, ln *quic.Listener) error {
	go s.evictIdle(ctx)
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("transport: accept: %w", err)
		}
		go s.serveConn(ctx, conn)
	}
}

// serveConn authenticates a connection, then answers its streams.
func (s *Server) serveConn(ctx context.Context, conn *quic.Conn) {
	peer, err := authenticate(ctx, conn, s.o.Identity, s.o.Swarm, true)
	if err != nil {
		s.o.Logger.Warn("refused a connection", "from", conn.RemoteAddr().String(), "err", err)
		conn.CloseWithError(1, "authentication failed")
		return
	}
	owner := keyID(peer)
	stop := context.AfterFunc(ctx, func() { conn.CloseWithError(0, "peer stopping") })
	defer stop()
	c := newCompressor()
	var cmu sync.Mutex // the compressor serves one stream at a time
	for {
		stream, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		go func() {
			cmu.Lock()
			defer cmu.Unlock()
			s.serveStream(stream, owner, c)
		}()
	}
}

// serveStream answers one request. A malformed request gets an error
// frame and ends its stream; the connection and the server go on.
func (s *Server) serveStream(stream *quic.Stream, owner string, c *compressor) {
	defer stream.Close()
	t, payload, err := ReadFrame(stream, nil, MaxPayload)
	if err != nil {
		s.o.Logger.Warn("bad request", "peer", owner[:12], "err", err)
		WriteFrame(stream, FrameError, []byte(err.Error()))
		stream.CancelRead(1)
		return
	}
	switch t {
	case FrameInfo:
		b, _ := json.Marshal(s.Info())
		WriteFrame(stream, FrameInfo, b)
	case FramePing:
		WriteFrame(stream, FramePing, payload)
	case FrameForward:
		out, err := s.forward(owner, payload, c)
		if err != nil {
			s.o.Logger.Warn("forward failed", "peer", owner[:12], "err", err)
			WriteFrame(stream, FrameError, []byte(err.Error()))
			return
		}
		WriteFrame(stream, FrameResult, out)
	case FrameClose:
		if len(payload) == 8 {
			s.closeSession(sessionKey{owner, binary.LittleEndian.Uint64(payload)})
		}
		WriteFrame(stream, FrameEnd, nil)
	case FrameFetch:
		s.sendFile(stream, string(payload))
	default:
		WriteFrame(stream, FrameError, []byte(fmt.Sprintf("transport: unexpected %d frame", t)))
	}
}

// Info describes the peer.
func (s *Server) Info() PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.frag.Config
	return PeerInfo{
		ID: s.o.Identity.ID(), Model: c.Name, Architecture: c.Architecture, Layers: c.Layers,
		Start: s.frag.Start, End: s.frag.End, Fragment: s.o.Fragment, SHA256: s.o.SHA256,
		Embedding: c.Embedding, Vocab: c.Vocab, Backend: s.frag.Backend().Name(), Device: s.frag.Backend().Device(),
		Sessions: len(s.sessions), MaxSessions: s.o.MaxSessions, MaxContext: s.o.MaxContext,
		Forwards: s.forwards, BusyMS: s.busy.Milliseconds(),
	}
}

// forward runs one batch and encodes its output.
func (s *Server) forward(owner string, payload []byte, c *compressor) ([]byte, error) {
	req, err := c.decodeForward(payload, s.frag.Config.Embedding, s.o.MaxContext)
	if err != nil {
		return nil, err
	}
	wire := WireF32
	if len(payload) > forwardHeader && payload[16]&flagF16 != 0 {
		wire = WireF16
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := s.clock()
	key := sessionKey{owner, req.Session}
	ss, ok := s.sessions[key]
	if !ok {
		if req.Pos != 0 {
			return nil, fmt.Errorf("transport: session %d is unknown here and the batch starts at %d", req.Session, req.Pos)
		}
		if len(s.sessions) >= s.o.MaxSessions {
			return nil, fmt.Errorf("transport: this peer holds its most sessions (%d)", s.o.MaxSessions)
		}
		es, err := s.frag.NewSession(s.o.MaxContext)
		if err != nil {
			return nil, err
		}
		ss = &serverSession{s: es}
		s.sessions[key] = ss
	}
	ss.used = start
	switch {
	case req.Pos < ss.s.Pos():
		ss.s.Truncate(req.Pos) // a replay: forget what follows
	case req.Pos > ss.s.Pos():
		return nil, fmt.Errorf("transport: session %d holds %d positions, the batch starts at %d", req.Session, ss.s.Pos(), req.Pos)
	}
	out := make([]float32, s.frag.OutputSize(req.N, req.AllLogits))
	if err := s.frag.Forward(out, ss.s, engine.Batch{Tokens: req.Tokens, Hidden: req.Hidden, AllLogits: req.AllLogits}); err != nil {
		return nil, err
	}
	end := s.clock()
	ss.used = end // idle from the end of its last batch
	took := end.Sub(start)
	s.forwards++
	s.busy += took
	compute := uint32(min(took.Microseconds(), 1<<32-1))
	if s.frag.Last() && !req.AllLogits && req.Needs.TopK > 0 {
		return encodeSparse(chooseLogits(out, req.Needs), out, compute), nil
	}
	return c.encodeResult(out, wire, s.frag.Last(), compute), nil
}

func (s *Server) closeSession(k sessionKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.sessions[k]; ok {
		ss.s.Close()
		delete(s.sessions, k)
	}
}

// evictIdle ends sessions unused for IdleTimeout.
func (s *Server) evictIdle(ctx context.Context) {
	tick := time.NewTicker(min(s.o.IdleTimeout/4, 30*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		for k, ss := range s.sessions {
			if s.clock().Sub(ss.used) > s.o.IdleTimeout {
				ss.s.Close()
				delete(s.sessions, k)
			}
		}
		s.mu.Unlock()
	}
}

// sendFile streams a fragment file this peer holds, by sha256.
func (s *Server) sendFile(stream *quic.Stream, sum string) {
	path, ok := s.o.Files[sum]
	if !ok {
		WriteFrame(stream, FrameError, []byte("transport: no fragment with sha256 "+sum+" here"))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		WriteFrame(stream, FrameError, []byte(err.Error()))
		return
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			if WriteFrame(stream, FrameChunk, buf[:n]) != nil {
				return
			}
		}
		if errors.Is(err, io.EOF) {
			WriteFrame(stream, FrameEnd, nil)
			return
		}
		if err != nil {
			WriteFrame(stream, FrameError, []byte(err.Error()))
			return
		}
	}
}

// chooseLogits returns the ids of the needs.TopK largest logits, in
// engine.TopK's order (the sampler's: ties to the lowest id), then those
// of needs.Also not among them, each id once.
func chooseLogits(logits []float32, needs engine.LogitsNeeds) []int32 {
	ids := engine.TopK(make([]int32, 0, min(max(needs.TopK, 0), len(logits))+len(needs.Also)), logits, needs.TopK)
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
