package transport

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// fetchRequest is a FrameFetch payload: the file's sha256 in hex, then,
// to resume, the offset of the first byte wanted (uint64, little-endian),
// and, for a range, the number of bytes wanted (uint64). A bare sha256
// asks for the whole file, as peers before offsets did; an offset alone,
// for the rest of it.
func fetchRequest(sum string, offset, length int64) []byte {
	b := []byte(sum)
	if offset > 0 || length > 0 {
		b = binary.LittleEndian.AppendUint64(b, uint64(offset))
	}
	if length > 0 {
		b = binary.LittleEndian.AppendUint64(b, uint64(length))
	}
	return b
}

// parseFetch reads a FrameFetch payload; length 0 is to the file's end.
func parseFetch(payload []byte) (sum string, offset, length int64, err error) {
	if len(payload) != 64 && len(payload) != 72 && len(payload) != 80 {
		return "", 0, 0, fmt.Errorf("transport: a fetch request of %d bytes", len(payload))
	}
	var words [2]uint64
	for i := range words {
		if at := 64 + 8*i; len(payload) >= at+8 {
			words[i] = binary.LittleEndian.Uint64(payload[at:])
		}
	}
	if words[0] > 1<<62 || words[1] > 1<<62 {
		return "", 0, 0, fmt.Errorf("transport: fetch of %d bytes from offset %d", words[1], words[0])
	}
	if len(payload) == 80 && words[1] == 0 {
		return "", 0, 0, errors.New("transport: a fetch of 0 bytes")
	}
	return string(payload[:64]), int64(words[0]), int64(words[1]), nil
}

// Fetch downloads the fragment file of the given sha256 and size into w,
// hashing as it goes: a peer that sends more than size bytes is cut off
// at once, and one whose bytes do not hash to sum is refused.
func (p *Peer) Fetch(ctx context.Context, sum string, size int64, w io.Writer) error {
	h := sha256.New()
	if _, err := p.FetchFrom(ctx, sum, size, FetchOptions{}, io.MultiWriter(h, w)); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("transport: %s sent a file whose sha256 is %s, not %s", p.Addr, got, sum)
	}
	return nil
}

// FetchOptions tune FetchFrom.
type FetchOptions struct {
	Offset int64 // the first byte wanted: what an earlier fetch wrote
	// Length is the number of bytes wanted from Offset on (0: to the
	// file's end): a range of a file, such as one tensor of a model.
	Length int64
	Stall  time.Duration // give up when no byte comes for this long (0: never)
}

// ErrStalled reports a fetch that brought no byte for FetchOptions.Stall.
var ErrStalled = errors.New("transport: fetch stalled")

// FetchFrom downloads the bytes from o.Offset on of the fragment file of
// the given sha256 and size into w, and returns how many it wrote, also
// when it fails: the caller resumes from there, and checks the whole
// file's sha256. A peer that sends more than the file's size is cut off
// at once; one that sends no byte for o.Stall loses the connection (the
// Peer is closed). ctx's deadline, if any, bounds the whole fetch.
func (p *Peer) FetchFrom(ctx context.Context, sum string, size int64, o FetchOptions, w io.Writer) (int64, error) {
	offset := o.Offset
	if offset < 0 || offset > size || o.Length < 0 || o.Length > size-offset {
		return 0, fmt.Errorf("transport: fetch of %d bytes from byte %d of a file of %d", o.Length, offset, size)
	}
	if o.Length > 0 {
		size = offset + o.Length // the end of the range
	}
	var stalled atomic.Bool
	reset := func() {}
	if o.Stall > 0 {
		timer := time.AfterFunc(o.Stall, func() {
			stalled.Store(true)
			p.conn.CloseWithError(0, "fetch stalled")
		})
		defer timer.Stop()
		reset = func() { timer.Reset(o.Stall) }
	}
	stop := context.AfterFunc(ctx, func() { p.conn.CloseWithError(0, "fetch cancelled") })
	defer stop()
	var got int64
	err := p.request(ctx, FrameFetch, fetchRequest(sum, offset, o.Length), func(t FrameType, b []byte) (bool, error) {
		reset()
		switch t {
		case FrameChunk:
			if offset+got+int64(len(b)) > size {
				return true, fmt.Errorf("transport: %s sent more than the %d bytes asked of file %.12s…", p.Addr, size-offset, sum)
			}
			n, err := w.Write(b)
			got += int64(n)
			return false, err
		case FrameEnd:
			return true, nil
		}
		return true, fmt.Errorf("%w: %d frame in a fetch", ErrMalformed, t)
	})
	switch {
	case err != nil && stalled.Load():
		return got, fmt.Errorf("%w: %s sent no byte for %v, after %d of file %.12s…", ErrStalled, p.Addr, o.Stall, offset+got, sum)
	case err != nil && ctx.Err() != nil:
		return got, fmt.Errorf("transport: fetch from %s: %w", p.Addr, ctx.Err())
	case err != nil:
		return got, err
	case offset+got != size:
		return got, fmt.Errorf("transport: %s sent %d bytes of file %.12s… from byte %d, not %d", p.Addr, got, sum, offset, size-offset)
	}
	return got, nil
}

// sendFile streams a file this peer holds (a fragment, or the whole
// model it serves layers of), by sha256, from the offset the request asks
// for, to its end or for the length asked.
func (s *Server) sendFile(stream *quic.Stream, payload []byte) {
	sum, offset, length, err := parseFetch(payload)
	if err != nil {
		WriteFrame(stream, FrameError, []byte(err.Error()))
		return
	}
	path, ok := s.o.Files[sum]
	if !ok {
		WriteFrame(stream, FrameError, []byte("transport: no file with sha256 "+sum+" here"))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		WriteFrame(stream, FrameError, []byte(err.Error()))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || offset > st.Size() || length > st.Size()-offset {
		WriteFrame(stream, FrameError, []byte(fmt.Sprintf("transport: fetch of bytes %d to %d of file %.12s…, past its end", offset, offset+length, sum)))
		return
	}
	if length == 0 {
		length = st.Size() - offset
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		WriteFrame(stream, FrameError, []byte(err.Error()))
		return
	}
	r := io.LimitReader(f, length)
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
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
