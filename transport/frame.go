package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// FrameType says what a frame carries.
type FrameType uint8

// Frame types.
const (
	FrameAuth    FrameType = 1  // HMAC proof of the swarm secret
	FrameInfo    FrameType = 2  // request: empty; reply: JSON PeerInfo
	FrameForward FrameType = 3  // a batch for a session (ForwardRequest)
	FrameResult  FrameType = 4  // the output of a batch
	FrameClose   FrameType = 5  // end a session
	FrameError   FrameType = 6  // the request failed: UTF-8 message
	FramePing    FrameType = 7  // echoed as is
	FrameFetch   FrameType = 8  // request a fragment file by sha256, from a byte offset
	FrameChunk   FrameType = 9  // a piece of a fetched file
	FrameEnd     FrameType = 10 // the end of a reply made of several frames
	FrameBusy    FrameType = 11 // the peer is alive but has no room for the request: UTF-8 message
	// FrameForwardMany carries several sessions' batches, run together;
	// the reply is a FrameResult of as many parts (see joinParts).
	FrameForwardMany FrameType = 12
	// FrameMoved answers a request for layers the peer no longer serves
	// for that session (ErrMoved): UTF-8 message.
	FrameMoved   FrameType = 13
	frameTypeEnd FrameType = 14
)

// HeaderSize is the size of a frame header: type, three reserved bytes,
// payload length and CRC-32C (Castagnoli) of type and payload.
const HeaderSize = 12

// MaxPayload bounds a frame's payload: a batch of 512 positions of width
// 8192 in f32 is 16 MiB.
const MaxPayload = 64 << 20

// Frame errors.
var (
	ErrOversized = errors.New("transport: frame too large")
	ErrChecksum  = errors.New("transport: frame checksum mismatch")
	ErrMalformed = errors.New("transport: malformed frame")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(t FrameType, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, castagnoli, []byte{byte(t)}), castagnoli, payload)
}

// AppendFrame appends a frame to dst.
func AppendFrame(dst []byte, t FrameType, payload []byte) []byte {
	var h [HeaderSize]byte
	h[0] = byte(t)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[8:], checksum(t, payload))
	return append(append(dst, h[:]...), payload...)
}

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, t FrameType, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("%w: %d bytes (at most %d)", ErrOversized, len(payload), MaxPayload)
	}
	if len(payload) <= 64<<10 {
		// Small frames in one write, so that they leave in one packet.
		_, err := w.Write(AppendFrame(make([]byte, 0, HeaderSize+len(payload)), t, payload))
		return err
	}
	var h [HeaderSize]byte
	h[0] = byte(t)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[8:], checksum(t, payload))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// parseHeader checks a header and returns the frame's type, length and sum.
func parseHeader(h []byte, max int) (FrameType, int, uint32, error) {
	t := FrameType(h[0])
	if t == 0 || t >= frameTypeEnd || h[1] != 0 || h[2] != 0 || h[3] != 0 {
		return 0, 0, 0, fmt.Errorf("%w: header % x", ErrMalformed, h[:4])
	}
	n := binary.LittleEndian.Uint32(h[4:])
	if uint64(n) > uint64(max) {
		return 0, 0, 0, fmt.Errorf("%w: %d bytes (at most %d)", ErrOversized, n, max)
	}
	return t, int(n), binary.LittleEndian.Uint32(h[8:]), nil
}

// ReadFrame reads one frame whose payload is at most max bytes, reusing
// buf for the payload when it is large enough. A stream that ends inside
// a frame gives io.ErrUnexpectedEOF; one that ends before gives io.EOF.
func ReadFrame(r io.Reader, buf []byte, max int) (FrameType, []byte, error) {
	t, n, sum, err := readHeader(r, max)
	if err != nil {
		return 0, nil, err
	}
	buf, err = readPayload(r, t, n, sum, buf)
	return t, buf, err
}

// readHeader reads and checks a frame header.
func readHeader(r io.Reader, max int) (FrameType, int, uint32, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, 0, err
	}
	return parseHeader(h[:], max)
}

// readPayload reads the n bytes of payload that follow a header, into buf
// when it is large enough, and checks their sum.
func readPayload(r io.Reader, t FrameType, n int, sum uint32, buf []byte) ([]byte, error) {
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("transport: frame of %d bytes: %w", n, err)
	}
	if checksum(t, buf) != sum {
		return nil, ErrChecksum
	}
	return buf, nil
}

// DecodeFrame decodes the frame at the start of b and returns it and the
// bytes after it.
func DecodeFrame(b []byte, max int) (FrameType, []byte, []byte, error) {
	if len(b) < HeaderSize {
		return 0, nil, nil, fmt.Errorf("%w: %d bytes, a header is %d", ErrMalformed, len(b), HeaderSize)
	}
	t, n, sum, err := parseHeader(b, max)
	if err != nil {
		return 0, nil, nil, err
	}
	if len(b)-HeaderSize < n {
		return 0, nil, nil, fmt.Errorf("%w: payload of %d bytes, %d present", ErrMalformed, n, len(b)-HeaderSize)
	}
	payload := b[HeaderSize : HeaderSize+n]
	if checksum(t, payload) != sum {
		return 0, nil, nil, ErrChecksum
	}
	return t, payload, b[HeaderSize+n:], nil
}
