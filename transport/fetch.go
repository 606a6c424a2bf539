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
// to resume, the offset of the first byte wanted (uint64, little-endian).
// A bare sha256 asks for the whole file, as peers before offsets did.
func fetchRequest(sum string, offset int64) []byte {
	b := []byte(sum)
	if offset > 0 {
		b = binary.LittleEndian.AppendUint64(b, uint64(offset))
	}
	return b
}

// parseFetch reads a FrameFetch payload.
func parseFetch(payload []byte) (sum string, offset int64, err error) {
	switch len(payload) {
	case 64:
		return string(payload), 0, nil
	case 72:
		off := binary.LittleEndian.Uint64(payload[64:])
		if off > 1<<62 {
			return "", 0, fmt.Errorf("transport: fetch offset %d", off)
		}
		return string(payload[:64]), int64(off), nil
	}
	return "", 0, fmt.Errorf("transport: a fetch request of %d bytes", len(payload))
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
	Offset int64         // the first byte wanted: what an earlier fetch wrote
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
	if offset < 0 || offset > size {
		return 0, fmt.Errorf("transport: fetch from byte %d of a file of %d", offset, size)
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
	err := p.request(ctx, FrameFetch, fetchRequest(sum, offset), func(t FrameType, b []byte) (bool, error) {
		reset()
		switch t {
		case FrameChunk:
			if offset+got+int64(len(b)) > size {
				return true, fmt.Errorf("transport: %s sent more than the %d bytes of fragment %.12s…", p.Addr, size, sum)
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
		return got, fmt.Errorf("%w: %s sent no byte for %v, after %d of fragment %.12s…", ErrStalled, p.Addr, o.Stall, offset+got, sum)
	case err != nil && ctx.Err() != nil:
		return got, fmt.Errorf("transport: fetch from %s: %w", p.Addr, ctx.Err())
	case err != nil:
		return got, err
	case offset+got != size:
		return got, fmt.Errorf("transport: %s sent %d bytes of fragment %.12s… from byte %d, not %d", p.Addr, got, sum, offset, size-offset)
	}
	return got, nil
}

// sendFile streams a fragment file this peer holds, by sha256, from the
// offset the request asks for.
func (s *Server) sendFile(stream *quic.Stream, payload []byte) {
	sum, offset, err := parseFetch(payload)
	if err != nil {
		WriteFrame(stream, FrameError, []byte(err.Error()))
		return
	}
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
	if st, err := f.Stat(); err != nil || offset > st.Size() {
		WriteFrame(stream, FrameError, []byte(fmt.Sprintf("transport: fetch from byte %d of fragment %.12s…, past its end", offset, sum)))
		return
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		WriteFrame(stream, FrameError, []byte(err.Error()))
		return
	}
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
