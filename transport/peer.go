package transport

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/quic-go/quic-go"
)

// A RemoteError is an error a peer answered with: the peer is alive and
// refused or failed the request. Busy marks a peer that had no room for
// it (errors.Is(err, ErrBusy)), Moved one that serves other layers now
// (errors.Is(err, ErrMoved)).
type RemoteError struct {
	Message string
	Busy    bool
	Moved   bool
}

func (e *RemoteError) Error() string { return "peer: " + e.Message }

// Unwrap gives ErrBusy for a busy peer, ErrMoved for a moved one.
func (e *RemoteError) Unwrap() error {
	switch {
	case e.Busy:
		return ErrBusy
	case e.Moved:
		return ErrMoved
	}
	return nil
}

// A Peer is an authenticated connection to another node.
type Peer struct {
	Addr string
	ID   string // the peer's identity
	conn *quic.Conn
	c    *compressor
}

// DialOptions configure Dial. Identity is required.
type DialOptions struct {
	Identity *Identity
	Swarm    Swarm
	// Pins, when not empty, are the only peer IDs accepted.
	Pins []string
}

// Dial connects to a peer and authenticates both ways.
func Dial(ctx context.Context, addr string, o DialOptions) (*Peer, error) {
	conn, err := quic.DialAddr(ctx, addr, tlsConfig(o.Identity, false), quicConfig())
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	key, err := authenticate(ctx, conn, o.Identity, o.Swarm, false)
	if err != nil {
		conn.CloseWithError(refusedCode, "authentication failed")
		return nil, fmt.Errorf("transport: %s: %w", addr, err)
	}
	id := keyID(key)
	if len(o.Pins) > 0 && !slices.Contains(o.Pins, id) {
		conn.CloseWithError(1, "unexpected identity")
		return nil, fmt.Errorf("transport: %s: %w: its identity %s is not among the pinned ones", addr, ErrUnauthenticated, id)
	}
	return &Peer{Addr: addr, ID: id, conn: conn, c: newCompressor()}, nil
}

// Close ends the connection.
func (p *Peer) Close() error { return p.conn.CloseWithError(0, "bye") }

// Done is closed when the connection ends.
func (p *Peer) Done() <-chan struct{} { return p.conn.Context().Done() }

// request sends one frame on a new stream and calls read with each frame
// of the reply until it returns done.
func (p *Peer) request(ctx context.Context, t FrameType, payload []byte, read func(FrameType, []byte) (bool, error)) error {
	stream, err := p.conn.OpenStreamSync(ctx)
	if err != nil {
		return fmt.Errorf("transport: %s: %w", p.Addr, err)
	}
	defer stream.CancelRead(0)
	if d, ok := ctx.Deadline(); ok {
		stream.SetDeadline(d)
	}
	if err := WriteFrame(stream, t, payload); err != nil {
		return fmt.Errorf("transport: %s: %w", p.Addr, err)
	}
	stream.Close() // no more requests on this stream
	var buf []byte
	for {
		rt, reply, err := ReadFrame(stream, buf, MaxPayload)
		if err != nil {
			return fmt.Errorf("transport: %s: %w", p.Addr, err)
		}
		if rt == FrameError || rt == FrameBusy || rt == FrameMoved {
			return &RemoteError{Message: string(reply), Busy: rt == FrameBusy, Moved: rt == FrameMoved}
		}
		done, err := read(rt, reply)
		if done || err != nil {
			return err
		}
		buf = reply[:0]
	}
}

// Info asks the peer what it serves.
func (p *Peer) Info(ctx context.Context) (PeerInfo, error) {
	var info PeerInfo
	err := p.request(ctx, FrameInfo, nil, func(t FrameType, b []byte) (bool, error) {
		if t != FrameInfo {
			return true, fmt.Errorf("%w: %d frame for an info request", ErrMalformed, t)
		}
		return true, json.Unmarshal(b, &info)
	})
	return info, err
}

// Ping measures the round trip.
func (p *Peer) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	err := p.request(ctx, FramePing, []byte("ping"), func(t FrameType, b []byte) (bool, error) {
		if t != FramePing || string(b) != "ping" {
			return true, fmt.Errorf("%w: bad ping reply", ErrMalformed)
		}
		return true, nil
	})
	return time.Since(start), err
}

// forward sends an encoded batch and decodes the output into out; it
// returns the peer's compute time.
func (p *Peer) forward(ctx context.Context, payload []byte, out []float32) (time.Duration, error) {
	var compute uint32
	err := p.request(ctx, FrameForward, payload, func(t FrameType, b []byte) (bool, error) {
		if t != FrameResult {
			return true, fmt.Errorf("%w: %d frame for a forward request", ErrMalformed, t)
		}
		var err error
		compute, err = p.c.decodeResult(out, b)
		return true, err
	})
	return time.Duration(compute) * time.Microsecond, err
}

// forwardMany sends an encoded multi-session request and decodes each
// part's output into outs; it returns the peer's compute time.
func (p *Peer) forwardMany(ctx context.Context, payload []byte, outs [][]float32) (time.Duration, error) {
	var compute uint32
	err := p.request(ctx, FrameForwardMany, payload, func(t FrameType, b []byte) (bool, error) {
		if t != FrameResult {
			return true, fmt.Errorf("%w: %d frame for a multi-session request", ErrMalformed, t)
		}
		var err error
		compute, err = p.c.decodeResultMany(outs, b)
		return true, err
	})
	return time.Duration(compute) * time.Microsecond, err
}

// CloseSession ends a session on the peer.
func (p *Peer) CloseSession(ctx context.Context, session uint64) error {
	return p.request(ctx, FrameClose, binary.LittleEndian.AppendUint64(nil, session), func(FrameType, []byte) (bool, error) {
		return true, nil
	})
}

// peerFailed reports whether err means the peer is gone, or cannot take
// the request (busy), as opposed to alive and refusing it: in both cases
// a replica may serve instead.
func peerFailed(err error) bool {
	var re *RemoteError
	return err != nil && (!errors.As(err, &re) || re.Busy || re.Moved)
}
