package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// ErrBusy reports a peer that is alive but has no room for a request (it
// holds its most sessions, or lends all its frame memory): a coordinator
// tries a replica.
var ErrBusy = errors.New("transport: peer busy")

// openConn counts a new connection of owner, within its quota, and
// returns the connection's number.
func (s *Server) openConn(owner string, conn *quic.Conn) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[owner] >= s.o.ConnsPerIdentity {
		if s.o.ConnsPerIdentity == 1 {
			return 0, fmt.Errorf("transport: this identity holds a connection here already, the most allowed")
		}
		return 0, fmt.Errorf("transport: this identity holds %d connections here, the most allowed", s.o.ConnsPerIdentity)
	}
	s.conns[owner]++
	s.nextConn++
	s.open[s.nextConn] = conn
	return s.nextConn, nil
}

// closeConn ends the sessions the connection last used: a coordinator
// that is gone, killed or cut off, leaves nothing behind.
func (s *Server) closeConn(owner string, conn uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[owner]--; s.conns[owner] <= 0 {
		delete(s.conns, owner)
	}
	delete(s.open, conn)
	for k, ss := range s.sessions {
		if k.owner != owner || ss.conn != conn {
			continue
		}
		if ss.active {
			ss.orphan = true // finishSession ends it
			continue
		}
		delete(s.sessions, k)
		s.endSession(ss)
	}
}

// lend reserves n bytes of frame memory for owner, and returns what gives
// them back.
func (s *Server) lend(owner string, n int64) (func(), error) {
	return s.lendFor(owner, n, true)
}

// lendWork reserves n bytes for decoding and computing a request: they
// count against the peer's budget, not the identity's share of frames.
func (s *Server) lendWork(owner string, n int64) (func(), error) {
	return s.lendFor(owner, n, false)
}

func (s *Server) lendFor(owner string, n int64, frame bool) (func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !frame {
		owner = ""
	}
	switch {
	case frame && s.lent[owner]+n > MaxPayload:
		return nil, fmt.Errorf("%w: this identity has %d bytes of requests in flight here; %d more would pass %d",
			ErrBusy, s.lent[owner], n, MaxPayload)
	case s.lentAll+n > s.o.FrameMemory:
		return nil, fmt.Errorf("%w: %d bytes of requests are in flight here; %d more would pass %d", ErrBusy, s.lentAll, n, s.o.FrameMemory)
	}
	s.lent[owner] += n
	s.lentAll += n
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.lent[owner] -= n; s.lent[owner] <= 0 {
				delete(s.lent, owner)
			}
			s.lentAll -= n
		})
	}, nil
}

// openSession finds or creates the session for a batch starting at pos,
// within the peer's and the owner's quotas, and marks it active. A
// request that names its layers (ForwardRequest.End > 0) must get a
// session on a fragment of those layers: a session opened before a
// Reassign keeps its fragment, a new one (or one replayed from position
// 0) opens on the fragment served now, and a request that names other
// layers is refused with ErrMoved.
func (s *Server) openSession(k sessionKey, conn uint64, req *ForwardRequest) (*serverSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pos := req.Pos
	if s.open[conn] == nil {
		return nil, fmt.Errorf("transport: the connection of session %d has closed", k.id)
	}
	named := req.End > 0
	want := [2]int{req.Start, req.End}
	ss, ok := s.sessions[k]
	if ok && named && ss.on.layers() != want {
		if ss.active || pos != 0 || s.cur.layers() != want {
			return nil, s.moved(k.id, ss.on, want)
		}
		// Replayed from the start onto the layers served now.
		delete(s.sessions, k)
		s.endSession(ss)
		ok = false
	}
	if !ok {
		if named && s.cur.layers() != want {
			return nil, s.moved(k.id, s.cur, want)
		}
		if pos != 0 {
			// Ended (idle, drained, or its connection closed): busy, so that
			// the coordinator replays the session, here or on a replica.
			return nil, fmt.Errorf("%w: session %d is unknown here (ended?) and the batch starts at %d", ErrBusy, k.id, pos)
		}
		mine := 0
		for other := range s.sessions {
			if other.owner == k.owner {
				mine++
			}
		}
		switch {
		case mine >= s.o.SessionsPerIdentity:
			return nil, fmt.Errorf("%w: this identity holds its most sessions here (%d)", ErrBusy, mine)
		case len(s.sessions) >= s.o.MaxSessions:
			return nil, fmt.Errorf("%w: this peer holds its most sessions (%d)", ErrBusy, s.o.MaxSessions)
		}
		es, err := s.cur.frag.NewSession(s.o.MaxContext)
		if err != nil {
			return nil, err
		}
		ss = &serverSession{s: es, on: s.cur}
		s.cur.sessions++
		s.sessions[k] = ss
	}
	if ss.active {
		return nil, fmt.Errorf("%w: session %d is running another batch", ErrBusy, k.id)
	}
	switch {
	case pos < ss.s.Pos():
		ss.s.Truncate(pos) // a replay: forget what follows
	case pos > ss.s.Pos():
		return nil, fmt.Errorf("transport: session %d holds %d positions, the batch starts at %d", k.id, ss.s.Pos(), pos)
	}
	ss.active, ss.orphan, ss.conn, ss.used = true, false, conn, s.clock()
	return ss, nil
}

// moved is the error of a request for session id naming layers want,
// which the fragment on does not compute.
func (s *Server) moved(id uint64, on *serving, want [2]int) error {
	return fmt.Errorf("%w: session %d asks for layers %d-%d; this peer computes layers %d-%d for it (and serves layers %d-%d)",
		ErrMoved, id, want[0], want[1]-1, on.frag.Start, on.frag.End-1, s.cur.frag.Start, s.cur.frag.End-1)
}

// finishSession marks a session idle from now, or ends it if its
// connection closed meanwhile.
func (s *Server) finishSession(k sessionKey, ss *serverSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.active, ss.used = false, s.clock()
	if ss.orphan && s.sessions[k] == ss {
		delete(s.sessions, k)
		s.endSession(ss)
	}
}

func (s *Server) closeSession(k sessionKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.sessions[k]; ok {
		if ss.active {
			ss.orphan = true
			return
		}
		delete(s.sessions, k)
		s.endSession(ss)
	}
}

// evictIdle ends sessions unused for IdleTimeout, and those on a replaced
// fragment once Drain has passed since they were replaced.
func (s *Server) evictIdle(ctx context.Context) {
	tick := time.NewTicker(min(s.o.IdleTimeout/4, s.o.Drain/4, 30*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		now := s.clock()
		for k, ss := range s.sessions {
			drained := ss.on.replaced && now.Sub(ss.on.since) > s.o.Drain
			switch {
			case drained && ss.active:
				ss.orphan = true // finishSession ends it
			case drained, !ss.active && now.Sub(ss.used) > s.o.IdleTimeout:
				delete(s.sessions, k)
				s.endSession(ss)
			}
		}
		s.mu.Unlock()
	}
}

// watchSuspension closes every connection when this process was stopped
// (SIGSTOP, a frozen machine) for longer than the idle timeout: the other
// ends have given up on them by then, but after the pause stale packets
// and a skewed round-trip estimate could keep them, and their sessions,
// open here for many seconds more.
func (s *Server) watchSuspension(ctx context.Context) {
	const every = 100 * time.Millisecond
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if gap := now.Sub(last); gap > idleTimeout {
				s.mu.Lock()
				conns := make([]*quic.Conn, 0, len(s.open))
				for _, c := range s.open {
					conns = append(conns, c)
				}
				s.mu.Unlock()
				s.o.Logger.Warn("this peer was suspended; closing its connections", "for", gap.Round(time.Millisecond), "connections", len(conns))
				for _, c := range conns {
					c.CloseWithError(3, "the peer was suspended")
				}
			}
			last = now
		}
	}
}

// rateLimitedLog writes at most one line per interval; the next line
// written says how many were left out.
type rateLimitedLog struct {
	every time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (r *rateLimitedLog) warn(l *slog.Logger, now time.Time, msg string, args ...any) {
	r.mu.Lock()
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		r.skipped++
		r.mu.Unlock()
		return
	}
	skipped := r.skipped
	r.last, r.skipped = now, 0
	r.mu.Unlock()
	if skipped > 0 {
		args = append(args, "left_out", skipped)
	}
	l.Warn(msg, args...)
}
