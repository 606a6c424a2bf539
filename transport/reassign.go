package transport

import (
	"errors"
	"fmt"
	"time"

	"strata/engine"
)

// ErrMoved reports a request for layers the peer no longer serves for
// that session: it was reassigned another range (Server.Reassign). A
// coordinator moves the session to a peer that serves them, or rebuilds
// its route from what the peers serve now.
var ErrMoved = errors.New("transport: the peer serves other layers now")

// A serving is a fragment a Server holds, with what describes it: the one
// new sessions open on, or one that was replaced and serves the sessions
// opened before, until the last of them ends.
type serving struct {
	frag     *engine.Fragment
	fragment int       // its index in a manifest
	sha256   string    // of its fragment file; "" for a range of a whole model file
	sessions int       // sessions open on it
	replaced bool      // a newer fragment serves new sessions
	since    time.Time // when it was replaced
}

func (v *serving) layers() [2]int { return [2]int{v.frag.Start, v.frag.End} }

// Reassign makes the server serve frag, another range of layers of the
// same model (a range of the whole model file ServerOptions.ModelSHA256
// names: PeerInfo then reports no fragment file), from now on. New
// sessions open on frag; a session opened before goes on with the
// fragment it opened on until it ends, or until ServerOptions.Drain has
// passed: then it is ended, and its coordinator replays it elsewhere (a
// request naming the old layers is refused with ErrMoved). The replaced
// fragment is closed (engine.Fragment.Close) once its last session has
// ended, so that two fragments' weights are held at once only while
// sessions drain: the server owns it from now on. The server owns frag
// too once it is replaced in turn; the caller closes the fragment served
// last, after Serve returns.
//
// frag must compute on a backend that no other server uses: the server's
// turns serialize every fragment it holds on it.
func (s *Server) Reassign(frag *engine.Fragment) error {
	if frag == nil {
		return errors.New("transport: reassign to no fragment")
	}
	a, b := &s.model, &frag.Config
	if a.Architecture != b.Architecture || a.Layers != b.Layers || a.Embedding != b.Embedding || a.Vocab != b.Vocab {
		return fmt.Errorf("transport: cannot reassign to %s of %d layers, width %d and %d tokens: this peer serves %s of %d layers, width %d and %d tokens",
			b.Architecture, b.Layers, b.Embedding, b.Vocab, a.Architecture, a.Layers, a.Embedding, a.Vocab)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if frag == s.cur.frag {
		return nil
	}
	old := s.cur
	old.replaced, old.since = true, s.clock()
	s.cur = &serving{frag: frag}
	s.held = append([]*serving{s.cur}, s.held...)
	s.o.Logger.Info("serving other layers", "layers", fmt.Sprintf("%d-%d", frag.Start, frag.End-1),
		"was", fmt.Sprintf("%d-%d", old.frag.Start, old.frag.End-1), "draining_sessions", old.sessions)
	s.dropIfDrained(old)
	return nil
}

// Holding reports the layer ranges whose fragments the server holds, as
// [start, end) pairs: the one it serves first, then those replaced whose
// sessions have not ended yet.
func (s *Server) Holding() [][2]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holding()
}

func (s *Server) holding() [][2]int {
	out := make([][2]int, len(s.held))
	for i, v := range s.held {
		out[i] = v.layers()
	}
	return out
}

// endSession closes a session that was removed from s.sessions, and the
// fragment it held if that was replaced and this was its last session.
// s.mu is held.
func (s *Server) endSession(ss *serverSession) {
	ss.s.Close()
	ss.on.sessions--
	s.dropIfDrained(ss.on)
}

// dropIfDrained closes a replaced fragment that no session uses. s.mu is
// held.
func (s *Server) dropIfDrained(v *serving) {
	if !v.replaced || v.sessions > 0 {
		return
	}
	for i, x := range s.held {
		if x == v {
			s.held = append(s.held[:i], s.held[i+1:]...)
			v.frag.Close()
			s.o.Logger.Info("released replaced layers", "layers", fmt.Sprintf("%d-%d", v.frag.Start, v.frag.End-1))
			return
		}
	}
}
