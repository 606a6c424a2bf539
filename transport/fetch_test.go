package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// limitWriter takes n bytes, then fails.
type limitWriter struct {
	bytes.Buffer
	n int
}

var errFull = errors.New("full")

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.n {
		k := w.n - w.Len()
		w.Buffer.Write(p[:k])
		return k, errFull
	}
	return w.Buffer.Write(p)
}

// TestFetchFrom: a fetch that stops partway resumes from the byte it
// reached, and the two pieces make the file.
func TestFetchFrom(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 2}, {2, 4}})
	swarm := testSwarm(t)
	p := startPeer(t, dir, m, 1, swarm)
	peer, err := Dial(context.Background(), p.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	fr := m.Fragments[1]
	first := &limitWriter{n: int(fr.Size/2) + 12345}
	got, err := peer.FetchFrom(context.Background(), fr.SHA256, fr.Size, FetchOptions{}, first)
	if !errors.Is(err, errFull) || got != int64(first.n) {
		t.Fatalf("the first half: %d bytes, %v", got, err)
	}
	var rest bytes.Buffer
	n, err := peer.FetchFrom(context.Background(), fr.SHA256, fr.Size, FetchOptions{Offset: got}, &rest)
	if err != nil || n != fr.Size-got {
		t.Fatalf("the rest: %d bytes, %v", n, err)
	}
	whole := append(first.Bytes(), rest.Bytes()...)
	want, _ := os.ReadFile(filepath.Join(dir, fr.File))
	if sum := sha256.Sum256(whole); hex.EncodeToString(sum[:]) != fr.SHA256 || !bytes.Equal(whole, want) {
		t.Errorf("the pieces do not make the file")
	}
	if n, err := peer.FetchFrom(context.Background(), fr.SHA256, fr.Size, FetchOptions{Offset: fr.Size}, &rest); err != nil || n != 0 {
		t.Errorf("from the end: %d bytes, %v", n, err)
	}
	var re *RemoteError
	if _, err := peer.FetchFrom(context.Background(), fr.SHA256, fr.Size+10, FetchOptions{Offset: fr.Size + 5}, &rest); !errors.As(err, &re) || !strings.Contains(err.Error(), "past its end") {
		t.Errorf("from past the end: %v", err)
	}
	// A range: exactly its bytes, and none past the file's end.
	var part bytes.Buffer
	if n, err := peer.FetchFrom(context.Background(), fr.SHA256, fr.Size, FetchOptions{Offset: 1000, Length: 4321}, &part); err != nil || n != 4321 || !bytes.Equal(part.Bytes(), want[1000:5321]) {
		t.Errorf("bytes 1000-5320: %d bytes, %v", n, err)
	}
	if _, err := peer.FetchFrom(context.Background(), fr.SHA256, fr.Size+10, FetchOptions{Offset: fr.Size - 5, Length: 10}, &part); !errors.As(err, &re) || !strings.Contains(err.Error(), "past its end") {
		t.Errorf("a range past the end: %v", err)
	}
}

// TestFetchStall: a peer that stops sending partway loses the fetch after
// the stall timeout, and what it sent is kept; the whole fetch has no limit.
func TestFetchStall(t *testing.T) {
	swarm := testSwarm(t)
	stalls := startHostile(t, swarm, PeerInfo{}, func(h *hostilePeer, s *quic.Stream, typ FrameType, _ []byte) {
		if h.answerInfo(s, typ) {
			return
		}
		WriteFrame(s, FrameChunk, make([]byte, 1000))
		WriteFrame(s, FrameChunk, make([]byte, 1000))
		io.Copy(io.Discard, s) // then nothing, the connection alive
	})
	peer, err := Dial(context.Background(), stalls.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	start := time.Now()
	var got bytes.Buffer
	n, err := peer.FetchFrom(context.Background(), strings.Repeat("0", 64), 1<<20, FetchOptions{Offset: 500, Stall: 300 * time.Millisecond}, &got)
	took := time.Since(start)
	if !errors.Is(err, ErrStalled) || n != 2000 || got.Len() != 2000 || !strings.Contains(err.Error(), "no byte for 300ms, after 2500") {
		t.Errorf("%d bytes, %v", n, err)
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("gave up after %v, the stall timeout is 300ms", took)
	}
}

func TestParseFetch(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, c := range []struct {
		payload        []byte
		offset, length int64
		bad            bool
	}{
		{payload: fetchRequest(sum, 0, 0)},
		{payload: fetchRequest(sum, 12345, 0), offset: 12345},
		{payload: fetchRequest(sum, 0, 77), length: 77},
		{payload: fetchRequest(sum, 12345, 77), offset: 12345, length: 77},
		{payload: []byte(sum[:10]), bad: true},
		{payload: append([]byte(sum), 1, 2, 3), bad: true},
		{payload: append([]byte(sum), 0, 0, 0, 0, 0, 0, 0, 0xff), bad: true},
		{payload: append(fetchRequest(sum, 1, 0), 0, 0, 0, 0, 0, 0, 0, 0), bad: true},    // 0 bytes
		{payload: append(fetchRequest(sum, 1, 0), 0, 0, 0, 0, 0, 0, 0, 0xff), bad: true}, // a length past 2^62
		{payload: append(fetchRequest(sum, 0, 5), 0, 0, 0, 0, 0, 0, 0, 0), bad: true},    // 88 bytes
	} {
		s, off, length, err := parseFetch(c.payload)
		if c.bad != (err != nil) || !c.bad && (s != sum || off != c.offset || length != c.length) {
			t.Errorf("parseFetch(%d bytes) = %.8s %d %d %v", len(c.payload), s, off, length, err)
		}
	}
	if len(fetchRequest(sum, 0, 0)) != 64 {
		t.Error("a fetch from the start is not the bare sha256 older peers read")
	}
}
