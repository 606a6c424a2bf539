package transport

import (
	"encoding/binary"
	"fmt"
)

// A multi-session request (FrameForwardMany) carries several sessions'
// batches to one peer, which runs them through its layers together; its
// result (FrameResult) carries each one's output, in the same order. Both
// are a list of parts:
//
//	count (4 bytes), then count × (length (4), part of length bytes)
//
// where each part of a request is a forward request exactly as a single
// one is encoded (encodeForward), and each part of a result a result as
// encodeResult or encodeSparse writes it. A coordinator keeps each
// session's parts as that session's history: a replica replays them one
// by one, or batched, with the same outputs bit for bit.
//
// joinParts and splitParts are the one place that knows this layout.

// joinParts encodes parts as one multi-session payload.
func joinParts(parts [][]byte) []byte {
	size := 4
	for _, p := range parts {
		size += 4 + len(p)
	}
	b := binary.LittleEndian.AppendUint32(make([]byte, 0, size), uint32(len(parts)))
	for _, p := range parts {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// splitParts decodes a multi-session payload of 1 to maxParts parts into
// its parts, which alias b.
func splitParts(b []byte, maxParts int) ([][]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: multi-session payload of %d bytes", ErrMalformed, len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 1 || n > maxParts || n > (len(b)-4)/4 {
		return nil, fmt.Errorf("%w: %d parts in %d bytes (1 to %d)", ErrMalformed, n, len(b), maxParts)
	}
	parts := make([][]byte, n)
	b = b[4:]
	for i := range parts {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: part %d of %d is missing", ErrMalformed, i, n)
		}
		size := int(binary.LittleEndian.Uint32(b))
		if size > len(b)-4 {
			return nil, fmt.Errorf("%w: part %d of %d bytes, %d left", ErrMalformed, i, size, len(b)-4)
		}
		parts[i], b = b[4:4+size:4+size], b[4+size:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last part", ErrMalformed, len(b))
	}
	return parts, nil
}

// decodeForwardMany decodes a multi-session request of at most maxParts
// parts, each as decodeForward does, and refuses one that names a session
// twice. It returns the requests and their encoded parts.
func (c *compressor) decodeForwardMany(b []byte, width, maxN, maxParts int) ([]*ForwardRequest, [][]byte, error) {
	parts, err := splitParts(b, maxParts)
	if err != nil {
		return nil, nil, err
	}
	reqs := make([]*ForwardRequest, len(parts))
	for i, p := range parts {
		if reqs[i], err = c.decodeForward(p, width, maxN); err != nil {
			return nil, nil, fmt.Errorf("transport: part %d: %w", i, err)
		}
		for j := range i {
			if reqs[j].Session == reqs[i].Session {
				return nil, nil, fmt.Errorf("%w: parts %d and %d are both for session %d", ErrMalformed, j, i, reqs[i].Session)
			}
		}
	}
	return reqs, parts, nil
}

// decodeResultMany decodes a multi-session result into outs, one part
// into each as decodeResult does, and returns the peer's compute time in
// microseconds, all parts together.
func (c *compressor) decodeResultMany(outs [][]float32, b []byte) (uint32, error) {
	parts, err := splitParts(b, len(outs))
	if err != nil {
		return 0, err
	}
	if len(parts) != len(outs) {
		return 0, fmt.Errorf("%w: a result of %d parts for %d", ErrMalformed, len(parts), len(outs))
	}
	var compute uint32
	for i, p := range parts {
		t, err := c.decodeResult(outs[i], p)
		if err != nil {
			return 0, fmt.Errorf("transport: part %d: %w", i, err)
		}
		compute = max(compute, t)
	}
	return compute, nil
}
