package transport

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
)

var tinyModel = filepath.Join("..", "testdata", "tiny-mistral", "tiny-mistral-q4km.gguf")

// splitTiny splits the tiny model into fragments of the given layers.
func splitTiny(t testing.TB, ranges [][2]int) (string, *engine.Manifest) {
	return splitModel(t, tinyModel, ranges)
}

// splitModel splits a model file into fragments of the given layers.
func splitModel(t testing.TB, path string, ranges [][2]int) (string, *engine.Manifest) {
	dir := t.TempDir()
	m, err := engine.Split(path, ranges, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// testPeer is a server running in this process.
type testPeer struct {
	addr   string
	server *Server
	ln     *quic.Listener
	cancel context.CancelFunc
}

// stop ends the peer abruptly: its listener and connections go away
// without a word, as when the process is killed.
func (p *testPeer) stop() {
	p.cancel()
	p.ln.Close()
}

var quiet = slog.New(slog.DiscardHandler)

// startPeer serves fragment i of a split on loopback.
func startPeer(t testing.TB, dir string, m *engine.Manifest, i int, swarm Swarm) *testPeer {
	return startPeerAt(t, dir, m, i, swarm, "127.0.0.1:0", ServerOptions{MaxContext: 512})
}

// startPeers serves every fragment of m, a peer each, and returns their
// addresses in the manifest's order.
func startPeers(t testing.TB, dir string, m *engine.Manifest, swarm Swarm) []string {
	var addrs []string
	for i := range m.Fragments {
		addrs = append(addrs, startPeer(t, dir, m, i, swarm).addr)
	}
	return addrs
}

// startPeerAt serves fragment i on addr with the given limits.
func startPeerAt(t testing.TB, dir string, m *engine.Manifest, i int, swarm Swarm, addr string, o ServerOptions) *testPeer {
	return startPeerOn(t, dir, m, i, swarm, addr, o, cpu.New(cpu.Options{Threads: 1}))
}

// startPeerOn serves fragment i on addr, computing on b.
func startPeerOn(t testing.TB, dir string, m *engine.Manifest, i int, swarm Swarm, addr string, o ServerOptions, b engine.Backend) *testPeer {
	f := m.Fragments[i]
	file, err := gguf.Open(filepath.Join(dir, f.File))
	if err != nil {
		t.Fatal(err)
	}
	frag, err := engine.NewFragment(file, b, engine.FragmentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(addr, id)
	if err != nil {
		t.Fatal(err)
	}
	o.Identity, o.Swarm, o.Fragment, o.SHA256, o.Logger = id, swarm, i, f.SHA256, quiet
	o.Files = map[string]string{f.SHA256: filepath.Join(dir, f.File)}
	s, err := NewServer(frag, o)
	if err != nil {
		t.Fatal(err)
	}
	return servePeer(t, s, ln, func() {
		b.Close()
		file.Close()
	})
}

// servePeer serves s on ln until the test ends; then it stops the peer
// and calls release (closing the backend and the file) once nothing can
// compute on them.
func servePeer(t testing.TB, s *Server, ln *quic.Listener, release func()) *testPeer {
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { s.Serve(ctx, ln); close(served) }()
	p := &testPeer{addr: ln.Addr().String(), server: s, ln: ln, cancel: cancel}
	t.Cleanup(func() {
		p.stop()
		<-served // nothing computes on the fragment any more
		// The server's connections close, and release their sessions' KV
		// caches, after the listener does; a forward may still be computing
		// for a client that gave up. Wait for both, and hold the backend,
		// before it closes and the weights are unmapped under it.
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			s.mu.Lock()
			open := len(s.open) + len(s.sessions)
			s.mu.Unlock()
			if open == 0 {
				break
			}
		}
		s.turn.Acquire(context.Background(), 1)
		s.mu.Lock()
		defer s.mu.Unlock()
		release()
	})
	return p
}

func testSwarm(t testing.TB) Swarm {
	s, err := NewSwarm()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dialOptions(t testing.TB, s Swarm) DialOptions {
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return DialOptions{Identity: id, Swarm: s}
}
