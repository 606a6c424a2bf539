package transport

import (
	"context"
	"slices"
	"testing"
	"time"

	"strata/engine"
)

// TestFailover stops the peer serving the middle layers after the fifth
// token: its replica takes over, replays the session, and the tokens are
// exactly those of an uninterrupted run.
func TestFailover(t *testing.T) {
	dir, m := splitTiny(t, [][2]int{{0, 1}, {1, 3}, {3, 4}})
	swarm := testSwarm(t)
	first := startPeer(t, dir, m, 0, swarm)
	middle := startPeer(t, dir, m, 1, swarm)
	replica := startPeer(t, dir, m, 1, swarm)
	last := startPeer(t, dir, m, 2, swarm)
	addrs := []string{first.addr, middle.addr, replica.addr, last.addr}
	prompt := loadCases(t)[0].PromptTokens
	const n = 40

	run := func(kill func(i int)) ([]int32, *Route) {
		r, err := NewRoute(context.Background(), addrs, RouteOptions{DialOptions: dialOptions(t, swarm), Manifest: m, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		var i int
		res, err := engine.Generate(context.Background(), r, prompt, engine.GenerateOptions{MaxTokens: n, IgnoreEOS: true},
			func(int32) error {
				i++
				kill(i)
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		return res.Tokens, r
	}
	want, r0 := run(func(int) {})
	r0.Close()
	var stalled time.Duration
	got, r := run(func(i int) {
		if i == 5 {
			middle.stop()
			stalled = -time.Duration(time.Now().UnixNano())
		}
		if i == 6 {
			stalled += time.Duration(time.Now().UnixNano())
		}
	})
	defer r.Close()
	if !slices.Equal(got, want) {
		t.Fatalf("after the failover: %v\nuninterrupted: %v", got, want)
	}
	st := r.Stats()
	if st[1].Addr != replica.addr || st[1].Replaced != 1 {
		t.Fatalf("the middle hop is %s (replaced %d times), want the replica %s", st[1].Addr, st[1].Replaced, replica.addr)
	}
	t.Logf("stall between tokens 5 and 6: %v", stalled)
	if stalled > 3*time.Second {
		t.Errorf("the stall was %v", stalled)
	}
}
