package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestRefusals: a client without the swarm secret, and a peer whose
// identity is not pinned, are refused; the peer keeps serving others.
func TestRefusals(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	p := startPeer(t, dir, m, 0, swarm)
	ctx := context.Background()

	stranger := dialOptions(t, testSwarm(t)) // another swarm's secret
	if _, err := Dial(ctx, p.addr, stranger); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a client without the secret: %v", err)
	}
	pinned := dialOptions(t, swarm)
	pinned.Pins = []string{strings.Repeat("a", 52)}
	if _, err := Dial(ctx, p.addr, pinned); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "not among the pinned") {
		t.Errorf("an unexpected identity: %v", err)
	}
	good, err := Dial(ctx, p.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatalf("a member after the refusals: %v", err)
	}
	defer good.Close()
	if info, err := good.Info(ctx); err != nil || info.ID != p.server.o.Identity.ID() {
		t.Fatalf("info: %+v %v", info, err)
	}
	// Pinning the right identity works.
	right := dialOptions(t, swarm)
	right.Pins = []string{p.server.o.Identity.ID()}
	if q, err := Dial(ctx, p.addr, right); err != nil {
		t.Errorf("the pinned identity: %v", err)
	} else {
		q.Close()
	}
	if p.server.Info().Forwards != 0 {
		t.Error("model work was done for a refused connection")
	}
}

// rawRequest writes raw bytes on a new stream of an authenticated
// connection and returns the first reply frame, or the error.
func rawRequest(t *testing.T, p *Peer, raw []byte, closeWrite bool) (FrameType, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := p.conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.SetDeadline(time.Now().Add(5 * time.Second))
	s.Write(raw)
	if closeWrite {
		s.Close()
	}
	typ, body, err := ReadFrame(s, nil, MaxPayload)
	return typ, string(body), err
}

// TestMalformedFrames: a bad checksum, an oversized frame and a truncated
// stream each get a clear error and end that stream only; the peer goes on
// serving on the same connection and to others.
func TestMalformedFrames(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	p := startPeer(t, dir, m, 0, swarm)
	peer, err := Dial(context.Background(), p.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	good := AppendFrame(nil, FramePing, []byte("hi"))
	corrupt := append([]byte{}, good...)
	corrupt[len(corrupt)-1] ^= 0xff
	oversized := make([]byte, HeaderSize)
	oversized[0] = byte(FrameForward)
	binary.LittleEndian.PutUint32(oversized[4:], MaxPayload+1)
	truncated := AppendFrame(nil, FrameForward, make([]byte, 100))[:60]
	badForward := AppendFrame(nil, FrameForward, []byte{1, 2, 3})

	for _, c := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"bad checksum", corrupt, "checksum mismatch"},
		{"oversized", oversized, "frame too large"},
		{"truncated", truncated, "unexpected EOF"},
		{"malformed request", badForward, "malformed frame"},
	} {
		typ, msg, err := rawRequest(t, peer, c.raw, true)
		if err != nil && !errors.Is(err, io.EOF) {
			t.Errorf("%s: reading the reply: %v", c.name, err)
			continue
		}
		if typ != FrameError || !strings.Contains(msg, c.want) {
			t.Errorf("%s: reply %d %q, want an error with %q", c.name, typ, msg, c.want)
		}
	}
	// The same connection still works, and so does a new one.
	if _, err := peer.Ping(context.Background()); err != nil {
		t.Fatalf("ping after the malformed frames: %v", err)
	}
	other, err := Dial(context.Background(), p.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
}

// TestFetch: a peer hands its fragment file to another, checked by sha256.
func TestFetch(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 2}, {2, 4}})
	swarm := testSwarm(t)
	p := startPeer(t, dir, m, 1, swarm)
	peer, err := Dial(context.Background(), p.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	var got countingWriter
	if err := peer.Fetch(context.Background(), m.Fragments[1].SHA256, m.Fragments[1].Size, &got); err != nil {
		t.Fatal(err)
	}
	if got.n != m.Fragments[1].Size {
		t.Errorf("fetched %d bytes, the file has %d", got.n, m.Fragments[1].Size)
	}
	var re *RemoteError
	if err := peer.Fetch(context.Background(), m.Fragments[0].SHA256, m.Fragments[0].Size, io.Discard); !errors.As(err, &re) {
		t.Errorf("fetching a fragment the peer lacks: %v", err)
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
