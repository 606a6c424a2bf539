package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDeadPeersDialedAtOnce: three listed peers that never answer cost
// one dial timeout at start-up, not one each.
func TestDeadPeersDialedAtOnce(t *testing.T) {
	dir, swarm := swarmDir(t)
	first := startServe(t, dir, swarm, 0, "first")
	middle := startServe(t, dir, swarm, 1, "middle")
	last := startServe(t, dir, swarm, 2, "last")
	var dead []string
	for range 3 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0") // takes the packets, never answers
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dead = append(dead, c.LocalAddr().String())
	}
	start := time.Now()
	_, errs, code := strata(t, "run", filepath.Join(dir, "split", "manifest.json"), "--swarm", swarm,
		"--peers", strings.Join(append(dead, first.addr, middle.addr, last.addr), ","), "-p", "Once", "-n", "2", "--temp", "0")
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	t.Logf("with 3 dead peers listed: %v", took.Round(time.Millisecond))
	if took > 6*time.Second {
		t.Errorf("3 dead peers cost %v: they were dialed one after another", took)
	}
}

// TestRefusedConnectionsLogged: a stranger knocking again and again costs
// the peer's log at most a line a second.
func TestRefusedConnectionsLogged(t *testing.T) {
	dir, swarm := swarmDir(t)
	p := startServe(t, dir, swarm, 0, "first")
	stranger := filepath.Join(dir, "stranger")
	if _, errs, code := strata(t, "swarm", "init", "-o", stranger); code != 0 {
		t.Fatal(errs)
	}
	start := time.Now()
	const knocks = 20
	for range knocks {
		if out, _, _ := strata(t, "peers", "--swarm", stranger, "--peers", p.addr); !strings.Contains(out, "the peer refused this node: wrong swarm secret?") {
			t.Fatalf("a stranger was served: %s", out)
		}
	}
	took := time.Since(start)
	time.Sleep(100 * time.Millisecond)
	log, _ := os.ReadFile(filepath.Join(dir, "first.log"))
	lines := strings.Count(string(log), "refused a connection")
	t.Logf("%d refusals in %v: %d log lines", knocks, took.Round(time.Millisecond), lines)
	if limit := int(took/time.Second) + 2; lines < 1 || lines > limit {
		t.Errorf("%d log lines for %d refusals in %v, want 1 to %d", lines, knocks, took, limit)
	}
}
