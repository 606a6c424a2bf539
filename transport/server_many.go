package transport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"strata/engine"
)

// forwardMany runs a multi-session request: every part's session opened
// (or cut back, for a replay) as for a single request and within the same
// quotas, then all the parts through the layers together, turn by turn,
// and each part's output encoded as a single request's would be.
func (s *Server) forwardMany(ctx context.Context, owner string, conn uint64, payload []byte, c *compressor, cmu *sync.Mutex) ([]byte, error) {
	cmu.Lock()
	reqs, parts, err := c.decodeForwardMany(payload, s.model.Embedding, s.o.MaxContext, s.o.SessionsPerIdentity)
	cmu.Unlock()
	if err != nil {
		return nil, err
	}
	sessions := make([]*engine.Session, len(reqs))
	held := make([]*serverSession, len(reqs))
	for i, req := range reqs {
		k := sessionKey{owner, req.Session}
		ss, err := s.openSession(k, conn, req)
		if err != nil {
			return nil, fmt.Errorf("transport: part %d: %w", i, err)
		}
		defer s.finishSession(k, ss)
		sessions[i], held[i] = ss.s, ss
		if req.Pos+req.N > ss.s.Context() {
			return nil, fmt.Errorf("transport: part %d: %w: %d positions after %d do not fit the context of %d",
				i, engine.ErrContextFull, req.N, req.Pos, ss.s.Context())
		}
	}
	wires := make([]Wire, len(reqs))
	bytes := int64(4)
	for i, req := range reqs {
		f, _ := parseForward(parts[i]) // decodeForward has checked it
		wires[i] = f.wire()
		bytes += 4 + resultHeader + resultBytes(sessions[i].Fragment(), req, wires[i])
	}
	if bytes > MaxPayload {
		return nil, fmt.Errorf("transport: the outputs of %d sessions take %d bytes, more than a frame holds (%d): send fewer at once",
			len(reqs), bytes, MaxPayload)
	}
	outs := make([][]float32, len(reqs))
	for i, req := range reqs {
		outs[i] = held[i].output(sessions[i].Fragment(), req)
	}
	// Sessions opened before a Reassign compute on the fragment they
	// opened on: each fragment's parts are a batch of their own.
	var took time.Duration
	for _, idx := range byFragment(sessions) {
		t, err := s.runMany(ctx, pick(outs, idx), pick(sessions, idx), pick(reqs, idx), idx)
		took += t
		if err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.forwards += int64(len(reqs))
	s.batches++
	s.mu.Unlock()
	compute := uint32(min(took.Microseconds(), 1<<32-1))
	results := make([][]byte, len(reqs))
	cmu.Lock()
	defer cmu.Unlock()
	for i, req := range reqs {
		if last := sessions[i].Fragment().Last(); last && !req.AllLogits && req.Needs.TopK > 0 {
			results[i] = encodeSparse(chooseLogits(outs[i], req.Needs), outs[i], compute)
		} else {
			results[i] = c.encodeResult(outs[i], wires[i], last, compute)
		}
	}
	return joinParts(results), nil
}

// byFragment groups the indices of sessions by the fragment they compute
// on, in the order each fragment first appears.
func byFragment(sessions []*engine.Session) [][]int {
	var groups [][]int
	at := map[*engine.Fragment]int{}
	for i, ss := range sessions {
		g, ok := at[ss.Fragment()]
		if !ok {
			g = len(groups)
			at[ss.Fragment()] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// pick returns the elements of v at idx.
func pick[T any](v []T, idx []int) []T {
	out := make([]T, len(idx))
	for k, i := range idx {
		out[k] = v[i]
	}
	return out
}

// runMany computes the parts, whose sessions are of one fragment,
// together, at most Chunk positions in all per turn of the backend: each
// turn takes first the parts whose rest fits whole (decode steps), then
// cuts the others to fill it. It returns the compute time, and stops
// between turns when ctx ends. number gives each part's index in the
// request, for errors.
func (s *Server) runMany(ctx context.Context, outs [][]float32, sessions []*engine.Session, reqs []*ForwardRequest, number []int) (time.Duration, error) {
	frag := sessions[0].Fragment()
	c := &frag.Config
	done := make([]int, len(reqs))
	var took time.Duration
	var turn []engine.Part
	var index []int // the request of each part of the turn
	for {
		turn, index = turn[:0], index[:0]
		budget := s.o.Chunk
		for whole := range 2 {
			for i, req := range reqs {
				rest := req.N - done[i]
				if rest == 0 || budget == 0 || slices.Contains(index, i) || whole == 0 && rest > budget {
					continue
				}
				m := min(rest, budget)
				budget -= m
				turn = append(turn, part(frag, outs[i], sessions[i], req, done[i], m))
				index = append(index, i)
			}
		}
		if len(turn) == 0 {
			break
		}
		t, err := s.takeTurn(ctx, func() error { return frag.ForwardMany(turn) })
		took += t
		if err != nil && ctx.Err() != nil {
			return took, err // the client went away before the turn
		}
		if err != nil {
			var pe *engine.PartError
			if errors.As(err, &pe) {
				return took, fmt.Errorf("transport: part %d (session %d): %w", number[index[pe.Part]], reqs[index[pe.Part]].Session, pe.Err)
			}
			if len(turn) == 1 {
				return took, fmt.Errorf("transport: part %d (session %d): %w", number[index[0]], reqs[index[0]].Session, err)
			}
			return took, fmt.Errorf("transport: %d sessions together: %w", len(turn), err)
		}
		for j, i := range index {
			done[i] += turn[j].Batch.Len(c.Embedding)
		}
	}
	return took, nil
}

// part is positions [from, from+m) of a request, as a ForwardMany part
// writing where run writes that chunk.
func part(frag *engine.Fragment, out []float32, session *engine.Session, req *ForwardRequest, from, m int) engine.Part {
	c := &frag.Config
	p := engine.Part{Session: session, Batch: engine.Batch{AllLogits: req.AllLogits}, Out: out}
	if req.Tokens != nil {
		p.Batch.Tokens = req.Tokens[from : from+m]
	} else {
		p.Batch.Hidden = req.Hidden[from*c.Embedding : (from+m)*c.Embedding]
	}
	switch {
	case !frag.Last():
		p.Out = out[from*c.Embedding:]
	case req.AllLogits:
		p.Out = out[from*c.Vocab:]
	}
	return p
}
