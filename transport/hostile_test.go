package transport

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"strata/engine"
)

// A hostilePeer is a swarm member (it holds the secret and authenticates)
// that answers every request through reply, which may lie, hang, flood or
// send garbage. It exists to show that an authenticated node can waste
// its own share of the work and nobody else's.
type hostilePeer struct {
	addr string
	info PeerInfo
	// reply answers one request frame on its stream.
	reply func(h *hostilePeer, s *quic.Stream, t FrameType, payload []byte)
}

// startHostile serves reply on loopback; info is what it says of itself.
func startHostile(t testing.TB, swarm Swarm, info PeerInfo, reply func(*hostilePeer, *quic.Stream, FrameType, []byte)) *hostilePeer {
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", id)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ln.Close() })
	info.ID = id.ID()
	h := &hostilePeer{addr: ln.Addr().String(), info: info, reply: reply}
	go func() {
		for {
			conn, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				if _, err := authenticate(ctx, conn, id, swarm, true); err != nil {
					conn.CloseWithError(1, "no")
					return
				}
				for {
					s, err := conn.AcceptStream(ctx)
					if err != nil {
						return
					}
					go func() {
						typ, payload, err := ReadFrame(s, nil, MaxPayload)
						if err != nil {
							s.Close()
							return
						}
						h.reply(h, s, typ, payload)
					}()
				}
			}()
		}
	}()
	return h
}

// answerInfo answers an Info request with the peer's description, and
// reports whether the request was one.
func (h *hostilePeer) answerInfo(s *quic.Stream, t FrameType) bool {
	if t != FrameInfo {
		return false
	}
	b, _ := json.Marshal(h.info)
	WriteFrame(s, FrameInfo, b)
	s.Close()
	return true
}

// Replies of hostile peers to forward requests.
var (
	// hang reads the request and never answers, the connection kept
	// alive by QUIC's keep-alives.
	hang = func(h *hostilePeer, s *quic.Stream, t FrameType, _ []byte) {
		if !h.answerInfo(s, t) {
			io.Copy(io.Discard, s) // until the client gives up
		}
	}
	// flood answers with frame after frame, forever.
	flood = func(h *hostilePeer, s *quic.Stream, t FrameType, _ []byte) {
		if h.answerInfo(s, t) {
			return
		}
		chunk := make([]byte, 1<<20)
		for WriteFrame(s, FrameChunk, chunk) == nil {
		}
	}
	// oversized announces a frame larger than any allowed.
	oversized = func(h *hostilePeer, s *quic.Stream, t FrameType, _ []byte) {
		if h.answerInfo(s, t) {
			return
		}
		header := make([]byte, HeaderSize)
		header[0] = byte(FrameResult)
		binary.LittleEndian.PutUint32(header[4:], 1<<31)
		s.Write(header)
		io.Copy(io.Discard, s)
	}
	// garbage answers with a well-formed frame whose result is nonsense.
	garbage = func(h *hostilePeer, s *quic.Stream, t FrameType, _ []byte) {
		if h.answerInfo(s, t) {
			return
		}
		WriteFrame(s, FrameResult, []byte{0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1, 2, 3})
		s.Close()
	}
	// bomb answers with a tiny zstd frame that inflates to 64 MiB.
	bomb = func(h *hostilePeer, s *quic.Stream, t FrameType, payload []byte) {
		if h.answerInfo(s, t) {
			return
		}
		f, _ := parseForward(payload)
		z := bombFrame()
		b := make([]byte, resultHeader)
		b[0] = flagZstd
		binary.LittleEndian.PutUint32(b[1:], uint32(f.n*h.info.Embedding))
		WriteFrame(s, FrameResult, append(b, z...))
		s.Close()
	}
)

// bombFrame is 64 MiB of zeros in zstd, compressed once: under the race
// detector on a busy machine, compressing it for each answer took longer
// than the deadline the test expects the bomb to beat.
var bombFrame = sync.OnceValue(func() []byte {
	return newCompressor().enc.EncodeAll(make([]byte, MaxPayload), nil)
})

// hostileRoute is the tiny model in three fragments, with honest peers
// for the first and last, an honest replica of the middle, and what the
// test puts before that replica.
type hostileRoute struct {
	swarm       Swarm
	m           *engine.Manifest
	first, last *testPeer
	replica     *testPeer
	prompt      []int32
	want        []int32 // the uninterrupted greedy tokens
}

func newHostileRoute(t *testing.T) *hostileRoute {
	dir, m := splitTiny(t, [][2]int{{0, 1}, {1, 3}, {3, 4}})
	h := &hostileRoute{swarm: testSwarm(t), m: m}
	h.first = startPeer(t, dir, m, 0, h.swarm)
	h.replica = startPeer(t, dir, m, 1, h.swarm)
	h.last = startPeer(t, dir, m, 2, h.swarm)
	h.prompt = loadCases(t)[0].PromptTokens
	r, err := NewRoute(context.Background(), []string{h.first.addr, h.replica.addr, h.last.addr}, h.options(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h.want = generate(t, r, h.prompt)
	return h
}

func (h *hostileRoute) options(t *testing.T) RouteOptions {
	return RouteOptions{DialOptions: dialOptions(t, h.swarm), Manifest: h.m, Logger: quiet,
		Timeout: 300 * time.Millisecond, FirstTimeout: time.Second}
}

// honestMiddle is what an honest peer of the middle layers says.
func (h *hostileRoute) honestMiddle() PeerInfo { return h.replica.server.Info() }

const hostileTokens = 8

func generate(t *testing.T, r *Route, prompt []int32) []int32 {
	res, err := engine.Generate(context.Background(), r, prompt, engine.GenerateOptions{MaxTokens: hostileTokens, IgnoreEOS: true}, func(int32) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return res.Tokens
}

// TestHostileInfo: a member that lies about what it serves is refused by
// name when the route is built: alone, the route fails with a clear
// error; with an honest replica listed, the route goes through the
// replica and gives the exact tokens.
func TestHostileInfo(t *testing.T) {
	h := newHostileRoute(t)
	for _, c := range []struct {
		name string
		lie  func(*PeerInfo)
		want string
	}{
		{"no layers", func(i *PeerInfo) { i.End = i.Start }, "reports layers 1 to 0 of 4, not a range of them"},
		{"past the model", func(i *PeerInfo) { i.End = 9 }, "reports layers 1 to 8 of 4, not a range of them"},
		{"zero width", func(i *PeerInfo) { i.Embedding = 0 }, "reports a width of 0"},
		{"negative vocabulary", func(i *PeerInfo) { i.Vocab = -1 }, "reports a vocabulary of -1"},
		{"huge vocabulary", func(i *PeerInfo) { i.Vocab = 1 << 40 }, "reports a vocabulary of 1099511627776"},
		{"no context", func(i *PeerInfo) { i.MaxContext = 0 }, "reports a context of 0"},
		{"other layers than the manifest", func(i *PeerInfo) { i.End = 2 }, "but fragment 1 of the manifest is layers 1-2"},
		{"other width than the model", func(i *PeerInfo) { i.Embedding = 4096 }, "but the model has"},
	} {
		t.Run(c.name, func(t *testing.T) {
			info := h.honestMiddle()
			c.lie(&info)
			liar := startHostile(t, h.swarm, info, hang)
			o := h.options(t)
			o.Model = &engine.Config{Layers: 4, Embedding: h.replica.server.model.Embedding, Vocab: h.replica.server.model.Vocab}
			start := time.Now()
			_, err := NewRoute(context.Background(), []string{h.first.addr, liar.addr, h.last.addr}, o)
			if !errors.Is(err, ErrNoRoute) || !strings.Contains(err.Error(), liar.addr) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("alone: %v, want %q naming %s", err, c.want, liar.addr)
			}
			t.Logf("alone, in %v: %v", time.Since(start).Round(time.Millisecond), err)
			r, err := NewRoute(context.Background(), []string{h.first.addr, liar.addr, h.replica.addr, h.last.addr}, o)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := generate(t, r, h.prompt); !slices.Equal(got, h.want) {
				t.Errorf("with a replica: %v, want %v", got, h.want)
			}
			if st := r.Stats(); st[1].Addr != h.replica.addr {
				t.Errorf("the middle hop is %s, not the replica", st[1].Addr)
			}
		})
	}
	// Without a manifest or a model, a hop must agree with the others.
	info := h.honestMiddle()
	info.Embedding++
	odd := startHostile(t, h.swarm, info, hang)
	o := h.options(t)
	o.Manifest = nil
	if _, err := NewRoute(context.Background(), []string{h.first.addr, odd.addr, h.last.addr}, o); !errors.Is(err, ErrNoRoute) || !strings.Contains(err.Error(), "unlike") {
		t.Errorf("a hop of another width: %v", err)
	}
}

// TestHostileReplies: a member that hangs, floods, announces an oversized
// frame, answers nonsense or a zstd bomb costs a bounded delay: its
// replica takes over and the tokens are exact; alone, the route fails
// with a clear error in bounded time.
func TestHostileReplies(t *testing.T) {
	h := newHostileRoute(t)
	for _, c := range []struct {
		name  string
		reply func(*hostilePeer, *quic.Stream, FrameType, []byte)
		want  string
	}{
		{"hangs", hang, "did not answer"},
		{"floods", flood, "malformed frame: 9 frame for a forward request"},
		{"oversized", oversized, "frame too large"},
		{"garbage", garbage, "malformed frame"},
		{"zstd bomb", bomb, "zstd frame declares 67108864 bytes"},
		{"hangs after a few answers", h.proxyThenHang(t, 3), "did not answer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := startHostile(t, h.swarm, h.honestMiddle(), c.reply)
			start := time.Now()
			r, err := NewRoute(context.Background(), []string{h.first.addr, bad.addr, h.replica.addr, h.last.addr}, h.options(t))
			if err != nil {
				t.Fatal(err)
			}
			got := generate(t, r, h.prompt)
			r.Close()
			took := time.Since(start)
			if !slices.Equal(got, h.want) {
				t.Errorf("with a replica: %v, want %v", got, h.want)
			}
			st := r.Stats()
			if st[1].Addr != h.replica.addr || st[1].Replaced != 1 {
				t.Errorf("the middle hop is %s, replaced %d times", st[1].Addr, st[1].Replaced)
			}
			t.Logf("with a replica: exact tokens in %v, %d timed out", took.Round(time.Millisecond), st[1].TimedOut)
			if took > 8*time.Second {
				t.Errorf("with a replica, it took %v", took)
			}
			start = time.Now()
			r, err = NewRoute(context.Background(), []string{h.first.addr, bad.addr, h.last.addr}, h.options(t))
			if err != nil {
				t.Fatal(err)
			}
			_, err = engine.Generate(context.Background(), r, h.prompt, engine.GenerateOptions{MaxTokens: hostileTokens, IgnoreEOS: true}, func(int32) error { return nil })
			r.Close()
			took = time.Since(start)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "peer serves layers 1-2") {
				t.Errorf("alone: %v, want %q", err, c.want)
			}
			t.Logf("alone, in %v: %v", took.Round(time.Millisecond), err)
			if took > 10*time.Second {
				t.Errorf("alone, it took %v", took)
			}
		})
	}
}

// proxyThenHang relays the first n forward requests to an honest peer of
// the middle layers, then hangs: the deadline that stops it comes from
// the speed measured on those n.
func (h *hostileRoute) proxyThenHang(t *testing.T, n int) func(*hostilePeer, *quic.Stream, FrameType, []byte) {
	inner, err := Dial(context.Background(), h.replica.addr, dialOptions(t, h.swarm))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	var mu sync.Mutex
	served := 0
	return func(p *hostilePeer, s *quic.Stream, typ FrameType, payload []byte) {
		if p.answerInfo(s, typ) {
			return
		}
		mu.Lock()
		served++
		honest := served <= n
		mu.Unlock()
		if !honest {
			hang(p, s, typ, payload)
			return
		}
		inner.request(context.Background(), typ, payload, func(rt FrameType, reply []byte) (bool, error) {
			return true, WriteFrame(s, rt, reply)
		})
		s.Close()
	}
}
