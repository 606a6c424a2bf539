package transport

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/klauspost/compress/zstd"

	"strata/engine"
	"strata/format"
)

// Wire is how activations cross the network.
type Wire uint8

// Wire formats. Logits always travel as f32.
const (
	WireF32 Wire = iota
	WireF16
)

// ParseWire reads "f32" or "f16".
func ParseWire(s string) (Wire, error) {
	switch s {
	case "f32", "":
		return WireF32, nil
	case "f16":
		return WireF16, nil
	}
	return 0, fmt.Errorf("transport: wire format %q: want f32 or f16", s)
}

func (w Wire) String() string {
	switch w {
	case WireF32:
		return "f32"
	case WireF16:
		return "f16"
	}
	return fmt.Sprintf("wire(%d)", uint8(w))
}

// Flags of a forward request or a result.
const (
	flagTokens    = 1 << 0 // the body holds token ids
	flagF16       = 1 << 1 // the body holds f16 values
	flagZstd      = 1 << 2 // the body is zstd-compressed
	flagAllLogits = 1 << 3 // a last fragment returns every row's logits
	flagNeeds     = 1 << 4 // a request: the logits wanted follow the header; a result: (id, logit) pairs
	flagLayers    = 1 << 5 // a request: the layers it is for follow the header (start, end: 4 bytes each)
)

// A ForwardRequest asks a peer to run a batch for a session: positions
// [Pos, Pos+N). A Pos below the session's length first forgets the
// positions from Pos on (a replay); a Pos above it is an error.
type ForwardRequest struct {
	Session   uint64
	Pos       int
	N         int
	Tokens    []int32   // for a first fragment
	Hidden    []float32 // otherwise, N × embedding
	AllLogits bool
	// Needs, when TopK > 0, asks a last fragment for only these logits of
	// the last position (see engine.LogitsNeeds).
	Needs engine.LogitsNeeds
	// Start and End, when End > 0, are the layers [Start, End) the request
	// is for: a peer that computes other layers for the session (it was
	// reassigned) refuses it with ErrMoved rather than compute them.
	Start, End int
}

const forwardHeader = 8 + 4 + 4 + 1
const resultHeader = 1 + 4 + 4

// forwardFields is the fixed header of an encoded forward request:
// session (8 bytes), first position (4), positions (4) and flags (1).
type forwardFields struct {
	session uint64
	pos, n  int
	flags   byte
}

// parseForward reads the fixed header of an encoded forward request. It
// is the one place that knows the layout; encodeForward writes it.
func parseForward(b []byte) (forwardFields, error) {
	if len(b) < forwardHeader {
		return forwardFields{}, fmt.Errorf("%w: forward request of %d bytes", ErrMalformed, len(b))
	}
	return forwardFields{
		session: binary.LittleEndian.Uint64(b),
		pos:     int(binary.LittleEndian.Uint32(b[8:])),
		n:       int(binary.LittleEndian.Uint32(b[12:])),
		flags:   b[16],
	}, nil
}

// wire is the format of the request's hidden states.
func (f forwardFields) wire() Wire {
	if f.flags&flagF16 != 0 {
		return WireF16
	}
	return WireF32
}

// compressor compresses bodies with zstd where it pays and counts what
// it saw. Activations rarely compress (f32 hidden states and logits are
// near-random in their low bits), so after a few bodies in a row that did
// not pay it only tries one body in probeEvery.
type compressor struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
	// Raw and Sent are body bytes before and after compression.
	Raw, Sent int64
	misses    int // bodies in a row that did not compress
	bodies    int
}

const (
	giveUpAfter = 4
	probeEvery  = 64
)

func newCompressor() *compressor {
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxPayload),
		zstd.WithDecodeAllCapLimit(true))
	return &compressor{enc: enc, dec: dec}
}

// pack appends body to dst, compressed when that saves a tenth or more,
// and reports whether it did.
func (c *compressor) pack(dst, body []byte) ([]byte, bool) {
	c.Raw += int64(len(body))
	c.bodies++
	if len(body) >= 256 && (c.misses < giveUpAfter || c.bodies%probeEvery == 0) {
		z := c.enc.EncodeAll(body, nil)
		if len(z) < len(body)-len(body)/10 {
			c.misses = 0
			c.Sent += int64(len(z))
			return append(dst, z...), true
		}
		c.misses++
	}
	c.Sent += int64(len(body))
	return append(dst, body...), false
}

// unpack returns the body, decompressed if flagged, which must be want
// bytes. A compressed body must declare its size, and that size must be
// want: nothing is inflated past it (a small bomb cannot claim memory).
func (c *compressor) unpack(body []byte, compressed bool, want int) ([]byte, error) {
	if compressed {
		var h zstd.Header
		if err := h.Decode(body); err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrMalformed, err)
		}
		if !h.HasFCS || h.FrameContentSize != uint64(want) {
			return nil, fmt.Errorf("%w: zstd frame declares %d bytes (declared: %t), want %d", ErrMalformed, h.FrameContentSize, h.HasFCS, want)
		}
		var err error
		if body, err = c.dec.DecodeAll(body, make([]byte, 0, want)); err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrMalformed, err)
		}
	}
	if len(body) != want {
		return nil, fmt.Errorf("%w: body of %d bytes, want %d", ErrMalformed, len(body), want)
	}
	return body, nil
}

// appendValues encodes activations as f32 or f16, little-endian.
func appendValues(dst []byte, v []float32, w Wire) []byte {
	for _, x := range v {
		if w == WireF16 {
			dst = binary.LittleEndian.AppendUint16(dst, format.FloatToHalf(x))
		} else {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
		}
	}
	return dst
}

func decodeValues(dst []float32, b []byte, w Wire) {
	for i := range dst {
		if w == WireF16 {
			dst[i] = format.HalfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		} else {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
}

// encodeForward encodes a request.
func (c *compressor) encodeForward(r *ForwardRequest, w Wire) []byte {
	b := make([]byte, forwardHeader, forwardHeader+4*max(len(r.Tokens), len(r.Hidden)))
	binary.LittleEndian.PutUint64(b, r.Session)
	binary.LittleEndian.PutUint32(b[8:], uint32(r.Pos))
	binary.LittleEndian.PutUint32(b[12:], uint32(r.N))
	var flags byte
	var body []byte
	if r.Tokens != nil {
		flags |= flagTokens
		for _, t := range r.Tokens {
			body = binary.LittleEndian.AppendUint32(body, uint32(t))
		}
	} else {
		if w == WireF16 {
			flags |= flagF16
		}
		body = appendValues(body, r.Hidden, w)
	}
	if r.AllLogits {
		flags |= flagAllLogits
	}
	if r.End > 0 {
		flags |= flagLayers
		b = binary.LittleEndian.AppendUint32(b, uint32(r.Start))
		b = binary.LittleEndian.AppendUint32(b, uint32(r.End))
	}
	if r.Needs.TopK > 0 {
		flags |= flagNeeds
		b = binary.LittleEndian.AppendUint32(b, uint32(r.Needs.TopK))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Needs.Also)))
		for _, id := range r.Needs.Also {
			b = binary.LittleEndian.AppendUint32(b, uint32(id))
		}
	}
	var z bool
	if b, z = c.pack(b, body); z {
		flags |= flagZstd
	}
	b[16] = flags
	return b
}

// decodeForward decodes a request whose hidden rows are width wide.
func (c *compressor) decodeForward(b []byte, width, maxN int) (*ForwardRequest, error) {
	f, err := parseForward(b)
	if err != nil {
		return nil, err
	}
	r := &ForwardRequest{Session: f.session, Pos: f.pos, N: f.n}
	flags := f.flags
	if r.N <= 0 || r.N > maxN {
		return nil, fmt.Errorf("%w: batch of %d positions (1 to %d)", ErrMalformed, r.N, maxN)
	}
	r.AllLogits = flags&flagAllLogits != 0
	b = b[forwardHeader:]
	if flags&flagLayers != 0 {
		if len(b) < 8 {
			return nil, fmt.Errorf("%w: truncated layer range", ErrMalformed)
		}
		r.Start, r.End = int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
		if r.End <= r.Start || r.End > engine.MaxLayers {
			return nil, fmt.Errorf("%w: layers %d to %d", ErrMalformed, r.Start, r.End-1)
		}
		b = b[8:]
	}
	if flags&flagNeeds != 0 {
		if len(b) < 8 {
			return nil, fmt.Errorf("%w: truncated logits request", ErrMalformed)
		}
		r.Needs.TopK = int(binary.LittleEndian.Uint32(b))
		n := int(binary.LittleEndian.Uint32(b[4:]))
		if r.Needs.TopK <= 0 || r.Needs.TopK > 1<<20 || n > (len(b)-8)/4 {
			return nil, fmt.Errorf("%w: logits request for %d plus %d tokens", ErrMalformed, r.Needs.TopK, n)
		}
		r.Needs.Also = make([]int32, n)
		for i := range r.Needs.Also {
			r.Needs.Also[i] = int32(binary.LittleEndian.Uint32(b[8+4*i:]))
		}
		b = b[8+4*n:]
	}
	if flags&flagTokens != 0 {
		body, err := c.unpack(b, flags&flagZstd != 0, 4*r.N)
		if err != nil {
			return nil, err
		}
		r.Tokens = make([]int32, r.N)
		for i := range r.Tokens {
			r.Tokens[i] = int32(binary.LittleEndian.Uint32(body[4*i:]))
		}
		return r, nil
	}
	w, size := WireF32, 4
	if flags&flagF16 != 0 {
		w, size = WireF16, 2
	}
	body, err := c.unpack(b, flags&flagZstd != 0, size*r.N*width)
	if err != nil {
		return nil, err
	}
	r.Hidden = make([]float32, r.N*width)
	decodeValues(r.Hidden, body, w)
	return r, nil
}

// encodeResult encodes a batch's output: hidden states in the wire
// format, or logits in f32.
func (c *compressor) encodeResult(v []float32, w Wire, logits bool, compute uint32) []byte {
	b := make([]byte, resultHeader, resultHeader+4*len(v))
	if logits {
		w = WireF32
	}
	var flags byte
	if w == WireF16 {
		flags |= flagF16
	}
	binary.LittleEndian.PutUint32(b[1:], uint32(len(v)))
	binary.LittleEndian.PutUint32(b[5:], compute)
	b, z := c.pack(b, appendValues(nil, v, w))
	if z {
		flags |= flagZstd
	}
	b[0] = flags
	return b
}

// encodeSparse encodes chosen logits as (id, logit) pairs.
func encodeSparse(ids []int32, logits []float32, compute uint32) []byte {
	b := make([]byte, resultHeader, resultHeader+8*len(ids))
	b[0] = flagNeeds
	binary.LittleEndian.PutUint32(b[1:], uint32(len(ids)))
	binary.LittleEndian.PutUint32(b[5:], compute)
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(logits[id]))
	}
	return b
}

// decodeResult decodes a result of exactly len(dst) values, or the pairs
// of a sparse one (the other values are −∞), and returns the peer's
// compute time in microseconds.
func (c *compressor) decodeResult(dst []float32, b []byte) (uint32, error) {
	if len(b) < resultHeader {
		return 0, fmt.Errorf("%w: result of %d bytes", ErrMalformed, len(b))
	}
	flags := b[0]
	n := int(binary.LittleEndian.Uint32(b[1:]))
	if flags&flagNeeds != 0 {
		if n > len(dst) || len(b)-resultHeader != 8*n {
			return 0, fmt.Errorf("%w: %d logits in %d bytes", ErrMalformed, n, len(b)-resultHeader)
		}
		inf := float32(math.Inf(-1))
		for i := range dst {
			dst[i] = inf
		}
		for i := range n {
			id := binary.LittleEndian.Uint32(b[resultHeader+8*i:])
			if int(id) >= len(dst) {
				return 0, fmt.Errorf("%w: logit of token %d", ErrMalformed, id)
			}
			dst[id] = math.Float32frombits(binary.LittleEndian.Uint32(b[resultHeader+8*i+4:]))
		}
		return binary.LittleEndian.Uint32(b[5:]), nil
	}
	if n != len(dst) {
		return 0, fmt.Errorf("%w: result of %d values, want %d", ErrMalformed, n, len(dst))
	}
	w, size := WireF32, 4
	if flags&flagF16 != 0 {
		w, size = WireF16, 2
	}
	body, err := c.unpack(b[resultHeader:], flags&flagZstd != 0, size*n)
	if err != nil {
		return 0, err
	}
	decodeValues(dst, body, w)
	return binary.LittleEndian.Uint32(b[5:]), nil
}
