package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// member dials p as a new identity of the swarm.
func member(t *testing.T, p *testPeer, swarm Swarm) *Peer {
	peer, err := Dial(context.Background(), p.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return peer
}

// decode sends one forward request of tokens for a session.
func decode(peer *Peer, session uint64, pos int, tokens []int32, out []float32) error {
	payload := peer.c.encodeForward(&ForwardRequest{Session: session, Pos: pos, N: len(tokens), Tokens: tokens}, WireF32)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := peer.forward(ctx, payload, out)
	return err
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestHostileClients: a member that opens sessions without end, opens
// connection after connection, or leaves frames half sent holds at most
// its own quota; a member's closed connection leaves no session; and
// another member is served all along.
func TestHostileClients(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	p := startPeerAt(t, dir, m, 0, swarm, "127.0.0.1:0", ServerOptions{MaxSessions: 8, MaxContext: 64, ReadTimeout: 300 * time.Millisecond})
	logits := make([]float32, 32000)
	honest := member(t, p, swarm)
	served := func(what string) {
		t.Helper()
		if err := decode(honest, 99, 0, []int32{1}, logits); err != nil {
			t.Errorf("%s: the other member: %v", what, err)
		}
		honest.CloseSession(context.Background(), 99)
	}

	t.Run("sessions without end", func(t *testing.T) {
		hostile := member(t, p, swarm)
		var err error
		n := 0
		for ; n < 100 && err == nil; n++ {
			err = decode(hostile, uint64(n), 0, []int32{1}, logits)
		}
		if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "this identity holds its most sessions here (4)") {
			t.Errorf("session %d: %v", n, err)
		}
		t.Logf("refused at session %d: %v", n, err)
		served("after the quota")
		hostile.Close()
		if !waitFor(time.Second, func() bool { return p.server.Info().Sessions == 0 }) {
			t.Errorf("%d sessions after the connection closed", p.server.Info().Sessions)
		}
	})

	t.Run("connections without end", func(t *testing.T) {
		o := dialOptions(t, swarm)
		var err error
		n := 0
		for ; n < 20 && err == nil; n++ {
			var c *Peer
			if c, err = Dial(context.Background(), p.addr, o); err == nil {
				defer c.Close()
				_, err = c.Ping(context.Background())
			}
		}
		if err == nil || !strings.Contains(err.Error(), "connections") {
			t.Errorf("connection %d: %v", n, err)
		}
		t.Logf("refused at connection %d: %v", n, err)
		served("after the connections")
	})

	t.Run("frames left half sent", func(t *testing.T) {
		hostile := member(t, p, swarm)
		var streams []*quic.Stream
		for range 3 {
			s, err := hostile.conn.OpenStreamSync(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			header := make([]byte, HeaderSize)
			header[0] = byte(FrameForward)
			binary.LittleEndian.PutUint32(header[4:], 40<<20)
			s.Write(append(header, make([]byte, 1000)...))
			streams = append(streams, s)
		}
		served("while frames are half sent")
		// The peer lent one identity at most MaxPayload: of the three
		// 40 MiB frames, two were refused as busy, and the last is cut off
		// at its deadline.
		busy := 0
		for _, s := range streams {
			s.SetReadDeadline(time.Now().Add(5 * time.Second))
			typ, msg, err := ReadFrame(s, nil, 1<<20)
			if err != nil || typ != FrameError && typ != FrameBusy {
				t.Errorf("a half-sent frame: %d %q %v", typ, msg, err)
			}
			if typ == FrameBusy {
				busy++
			}
			t.Logf("%d: %s", typ, msg)
		}
		if busy != 2 {
			t.Errorf("%d of 3 half-sent frames were refused as busy, want 2", busy)
		}
		if !waitFor(time.Second, func() bool {
			p.server.mu.Lock()
			defer p.server.mu.Unlock()
			return p.server.lentAll == 0
		}) {
			t.Error("frame memory still lent after the deadline")
		}
	})
}

// TestOversizedResult: every row's logits for 1024 positions would not
// fit a frame; the peer refuses before computing anything.
func TestOversizedResult(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	p := startPeerAt(t, dir, m, 0, swarm, "127.0.0.1:0", ServerOptions{MaxContext: 2048})
	peer := member(t, p, swarm)
	payload := peer.c.encodeForward(&ForwardRequest{Session: 1, N: 1024, Tokens: make([]int32, 1024), AllLogits: true}, WireF32)
	start := time.Now()
	_, err := peer.forward(context.Background(), payload, make([]float32, 1024*32000))
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "more than a frame holds") {
		t.Fatalf("all logits of 1024 positions: %v", err)
	}
	t.Logf("refused in %v: %v", time.Since(start).Round(time.Millisecond), err)
	if info := p.server.Info(); info.Forwards != 0 || info.BusyMS != 0 {
		t.Errorf("the peer computed: %+v", info)
	}
}

// TestLongBatchInterleaves: while one member's long batch runs, another
// member's one-token batch takes its turn between two chunks instead of
// waiting for the whole batch.
func TestLongBatchInterleaves(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	p := startPeerAt(t, dir, m, 0, swarm, "127.0.0.1:0", ServerOptions{MaxContext: 1024, Chunk: 8})
	long, short := member(t, p, swarm), member(t, p, swarm)
	done := make(chan time.Time, 1)
	go func() {
		decode(long, 1, 0, make([]int32, 1000), make([]float32, 32000))
		done <- time.Now()
	}()
	if !waitFor(5*time.Second, func() bool { return p.server.Info().BusyMS > 0 }) {
		t.Fatal("the long batch did not start")
	}
	start := time.Now()
	if err := decode(short, 2, 0, []int32{1}, make([]float32, 32000)); err != nil {
		t.Fatal(err)
	}
	shortDone := time.Now()
	longDone := <-done
	t.Logf("the one-token batch took %v; the long batch ended %v after it", shortDone.Sub(start).Round(time.Millisecond), longDone.Sub(shortDone).Round(time.Millisecond))
	if !shortDone.Before(longDone) {
		t.Errorf("the one-token batch waited for the whole long batch")
	}
}

// TestFetchBounded: a peer that sends more than the fragment's size is
// cut off at that size; what it sent past it is never written.
func TestFetchBounded(t *testing.T) {
	swarm := testSwarm(t)
	bad := startHostile(t, swarm, PeerInfo{}, flood)
	peer, err := Dial(context.Background(), bad.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	var got countingWriter
	const size = 3<<20 + 5
	err = peer.Fetch(context.Background(), strings.Repeat("0", 64), size, &got)
	if err == nil || !strings.Contains(err.Error(), "sent more than the 3145733 bytes") {
		t.Errorf("fetch: %v", err)
	}
	if got.n > size {
		t.Errorf("%d bytes written for a fragment of %d", got.n, size)
	}
	t.Logf("%d bytes written: %v", got.n, err)
}

// TestBombRequest: a request whose zstd body would inflate past the
// batch it announces is refused from its header, before inflating.
func TestBombRequest(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	p := startPeer(t, dir, m, 0, swarm)
	peer := member(t, p, swarm)
	payload := peer.c.encodeForward(&ForwardRequest{Session: 1, N: 1, Tokens: []int32{1}}, WireF32)
	payload[16] |= flagZstd
	payload = append(payload[:forwardHeader], peer.c.enc.EncodeAll(make([]byte, 32<<20), nil)...)
	_, err := peer.forward(context.Background(), payload, make([]float32, 32000))
	if err == nil || !strings.Contains(err.Error(), "zstd frame declares 33554432 bytes") {
		t.Errorf("a zstd bomb: %v", err)
	}
	t.Logf("%d bytes refused: %v", len(payload), err)
}

// TestBusyPeerReplica: a peer that holds its most sessions answers busy,
// and the coordinator goes to a listed replica instead of failing.
func TestBusyPeerReplica(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	full := startPeerAt(t, dir, m, 0, swarm, "127.0.0.1:0", ServerOptions{MaxSessions: 1, MaxContext: 64})
	replica := startPeer(t, dir, m, 0, swarm)
	other := member(t, full, swarm)
	if err := decode(other, 1, 0, []int32{1}, make([]float32, 32000)); err != nil {
		t.Fatal(err)
	}
	r, err := NewRoute(context.Background(), []string{full.addr, replica.addr}, RouteOptions{DialOptions: dialOptions(t, swarm), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Eval(make([]float32, 32000), []int32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st[0].Addr != replica.addr || st[0].Replaced != 1 {
		t.Errorf("the hop is %s (replaced %d times), want the replica", st[0].Addr, st[0].Replaced)
	}
}

// TestAbandonedBatchStops: a client that gives up on a long batch stops
// the peer's work at the next chunk, and its session is free again for
// the retry at once (it used to run to the end, answering the retry
// "running another batch").
func TestAbandonedBatchStops(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	p := startPeerAt(t, dir, m, 0, swarm, "127.0.0.1:0", ServerOptions{MaxContext: 2048, Chunk: 4})
	peer := member(t, p, swarm)
	payload := peer.c.encodeForward(&ForwardRequest{Session: 1, N: 2000, Tokens: make([]int32, 2000)}, WireF32)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := peer.forward(ctx, payload, make([]float32, 32000))
	cancel()
	if err == nil {
		t.Fatal("a 2000-position batch finished within 100 ms: the test proves nothing")
	}
	// The peer hears of it a round trip later, and stops after its
	// current chunk of 4 positions: the retry is busy for a moment only.
	start := time.Now()
	for {
		err := decode(peer, 1, 0, []int32{1}, make([]float32, 32000))
		if err == nil {
			break
		}
		if !errors.Is(err, ErrBusy) || time.Since(start) > 200*time.Millisecond {
			t.Fatalf("the retry %v after giving up: %v", time.Since(start), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("the retry was served %v after the client gave up", time.Since(start).Round(time.Millisecond))
}
