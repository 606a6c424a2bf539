package transport

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"strata/engine"
)

// TestSessionLimits: a peer holds at most MaxSessions sessions of at most
// MaxContext positions, refuses more with a clear error, and frees idle
// sessions.
func TestSessionLimits(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	p := startPeerAt(t, dir, m, 0, swarm, "127.0.0.1:0", ServerOptions{MaxSessions: 1, MaxContext: 16, IdleTimeout: time.Second})
	peer, err := Dial(context.Background(), p.addr, dialOptions(t, swarm))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	logits := make([]float32, 32000)
	send := func(session uint64, pos int, tokens []int32) error {
		payload := peer.c.encodeForward(&ForwardRequest{Session: session, Pos: pos, N: len(tokens), Tokens: tokens}, WireF32)
		_, err := peer.forward(context.Background(), payload, logits)
		return err
	}
	if err := send(1, 0, []int32{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	var re *RemoteError
	if err := send(2, 0, []int32{1}); !errors.As(err, &re) || !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "most sessions") {
		t.Errorf("a second session: %v", err)
	}
	if err := send(1, 3, make([]int32, 14)); !errors.As(err, &re) || !strings.Contains(err.Error(), "context") {
		t.Errorf("past the context: %v", err)
	}
	if err := send(1, 5, []int32{1}); !errors.As(err, &re) || !strings.Contains(err.Error(), "holds 3 positions") {
		t.Errorf("a gap: %v", err)
	}
	// Idle sessions go away, and the slot is free again.
	deadline := time.Now().Add(10 * time.Second)
	for p.server.Info().Sessions > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := send(2, 0, []int32{1}); err != nil {
		t.Errorf("after the idle session ended: %v", err)
	}
	// Closing a session frees it at once.
	if err := peer.CloseSession(context.Background(), 2); err != nil || p.server.Info().Sessions != 0 {
		t.Errorf("close: %v, %d sessions", err, p.server.Info().Sessions)
	}
}

// TestRestartedPeer: a listed replica that was down when the route was
// built, and has come back since, takes over when the serving peer dies.
func TestRestartedPeer(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 2}, {2, 4}})
	swarm := testSwarm(t)
	first := startPeer(t, dir, m, 0, swarm)
	second := startPeer(t, dir, m, 1, swarm)
	gone := startPeer(t, dir, m, 1, swarm)
	addr := gone.addr
	gone.stop() // listed, but down when the route is built
	r, err := NewRoute(context.Background(), []string{first.addr, second.addr, addr}, RouteOptions{DialOptions: dialOptions(t, swarm), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	prompt := loadCases(t)[1].PromptTokens
	want := loadCases(t)[1].GreedyTokens[:12]
	var back *testPeer
	res, err := engine.Generate(context.Background(), r, prompt, engine.GenerateOptions{MaxTokens: len(want), IgnoreEOS: true},
		func(int32) error {
			if back == nil {
				back = startPeerAt(t, dir, m, 1, swarm, addr, ServerOptions{MaxContext: 512}) // it restarts
				second.stop()
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Tokens, want) {
		t.Fatalf("got %v want %v", res.Tokens, want)
	}
	if st := r.Stats(); st[1].Addr != addr || st[1].Replaced != 1 {
		t.Fatalf("the second hop is %s, replaced %d times; want the restarted %s", st[1].Addr, st[1].Replaced, addr)
	}
}

// TestEvictedSessionReplayed: a session the peer ended while idle is
// replayed there when the route goes on, and the logits are those of a
// session that was never ended.
func TestEvictedSessionReplayed(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 4}})
	swarm := testSwarm(t)
	p := startPeerAt(t, dir, m, 0, swarm, "127.0.0.1:0", ServerOptions{MaxContext: 64, IdleTimeout: 200 * time.Millisecond})
	r, err := NewRoute(context.Background(), []string{p.addr}, RouteOptions{DialOptions: dialOptions(t, swarm), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tokens := []int32{1, 415, 2936, 9060, 285}
	got := make([]float32, r.VocabSize())
	if err := r.Eval(got, tokens[:4]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.server.Info().Sessions > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.server.Info().Sessions != 0 {
		t.Fatal("the idle session was not ended")
	}
	if err := r.Eval(got, tokens[4:]); err != nil {
		t.Fatalf("after the peer ended the idle session: %v", err)
	}
	if want := localLogits(t, tokens); !slices.Equal(got, want) {
		t.Error("the replayed session's logits differ from one never ended")
	}
	if st := r.Stats()[0]; st.Replaced != 1 {
		t.Errorf("replaced %d times, want 1 (the replay)", st.Replaced)
	}
}
