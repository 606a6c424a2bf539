package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// repeat reads a run count from the environment, or gives def.
func repeat(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// sessions asks a peer, through `strata peers`, how many sessions it holds.
func sessions(t *testing.T, swarm, addr string) int {
	out, errs, code := strata(t, "peers", "--swarm", swarm, "--peers", addr, "--json")
	// A peer that has just resumed from a pause closes every connection
	// it holds, a query's that came in as it resumed included: ask again.
	for try := 0; code != 0 && strings.Contains(out+errs, "the peer was suspended") && try < 10; try++ {
		time.Sleep(100 * time.Millisecond)
		out, errs, code = strata(t, "peers", "--swarm", swarm, "--peers", addr, "--json")
	}
	var rows []struct {
		Info *struct {
			Sessions int `json:"sessions"`
		} `json:"info"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Info == nil {
		t.Fatalf("peers %s: exit %d: %s %s", addr, code, out, errs)
	}
	return rows[0].Info.Sessions
}

// waitSessions polls a peer until it holds no session, and returns how
// long that took, or false after limit.
func waitSessions(t *testing.T, swarm, addr string, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit {
		if sessions(t, swarm, addr) == 0 {
			return time.Since(start), true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start), false
}

// TestStoppedPeer stops (SIGSTOP) the peer serving the middle layers
// after the 5th of 200 tokens: alive to the kernel but silent, it loses
// its layers to its replica within 3 s, and the tokens are exactly those
// of an uninterrupted run. Resumed (SIGCONT), it holds no orphan session.
// STRATA_STOP_RUNS sets how many times (default 3).
func TestStoppedPeer(t *testing.T) {
	dir, swarm := swarmDir(t)
	first := startServe(t, dir, swarm, 0, "first")
	replica := startServe(t, dir, swarm, 1, "replica")
	last := startServe(t, dir, swarm, 2, "last")
	args := func(middle string) []string {
		return []string{"--verbose", "run", filepath.Join(dir, "split", "manifest.json"), "--swarm", swarm,
			"--peers", strings.Join([]string{first.addr, middle, replica.addr, last.addr}, ","),
			"-p", "Once upon a time, there was a little robot who", "-n", "200", "--temp", "0", "--ignore-eos", "--json"}
	}
	middle := startServe(t, dir, swarm, 1, "middle")
	out, errs, code := strata(t, args(middle.addr)[1:]...)
	var want peersResult
	if code != 0 || json.Unmarshal([]byte(out), &want) != nil || len(want.Tokens) != 200 {
		t.Fatalf("uninterrupted run: exit %d %s", code, errs)
	}
	runs := repeat("STRATA_STOP_RUNS", 3)
	passed := 0
	for run := range runs {
		cmd := exec.Command(strataBin, args(middle.addr)...)
		stderr, _ := cmd.StderrPipe()
		var stdout strings.Builder
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stopped, stall := stallAfter(stderr, 5, func() { middle.cmd.Process.Signal(syscall.SIGSTOP) })
		err := cmd.Wait()
		suspensions := countInLog(dir, "middle", suspendedLine)
		middle.cmd.Process.Signal(syscall.SIGCONT)
		// Resumed after more than the idle timeout, the middle closes every
		// connection it holds within a tick: let it, so that the next
		// run's dial is not among them and the run routes through it.
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline) && countInLog(dir, "middle", suspendedLine) == suspensions; {
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("run %d: %v", run, err)
			continue
		}
		var got peersResult
		if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
			t.Errorf("run %d: %v", run, err)
			continue
		}
		orphan, ok := waitSessions(t, swarm, middle.addr, 5*time.Second)
		switch {
		case !slices.Equal(got.Tokens, want.Tokens):
			t.Errorf("run %d: tokens differ from the uninterrupted run", run)
		case got.Peers[1].Addr != replica.addr || got.Peers[1].Replaced != 1:
			t.Errorf("run %d: middle hop %+v, want the replica %s", run, got.Peers[1], replica.addr)
		case stopped.IsZero() || stall > 3*time.Second:
			t.Errorf("run %d: stall %v", run, stall)
		case !ok:
			t.Errorf("run %d: the resumed peer still holds a session after %v", run, orphan)
		default:
			passed++
		}
		t.Logf("run %d: stall after the stop %v; the resumed peer held no session %v after the run", run, stall.Round(time.Millisecond), orphan.Round(time.Millisecond))
	}
	t.Logf("%d of %d runs passed", passed, runs)
}

// suspendedLine is what a peer logs when it closes its connections after
// a pause (transport's watchSuspension).
const suspendedLine = "this peer was suspended"

// countInLog counts the lines of DIR/NAME.log that hold text.
func countInLog(dir, name, text string) int {
	b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
	return strings.Count(string(b), text)
}

// TestKilledCoordinators kills (SIGKILL) coordinator after coordinator in
// the middle of their generation: each death leaves the peers with no
// session within 5 s, and the next client is served at once.
// STRATA_COORDINATOR_KILLS sets how many (default 5).
func TestKilledCoordinators(t *testing.T) {
	dir, swarm := swarmDir(t)
	peers := []*peerProcess{startServe(t, dir, swarm, 0, "first"), startServe(t, dir, swarm, 1, "middle"), startServe(t, dir, swarm, 2, "last")}
	var addrs []string
	for _, p := range peers {
		addrs = append(addrs, p.addr)
	}
	args := []string{"--verbose", "run", filepath.Join(dir, "split", "manifest.json"), "--swarm", swarm,
		"--peers", strings.Join(addrs, ","), "-p", "Once upon a time", "--temp", "0", "--ignore-eos", "--json"}
	kills := repeat("STRATA_COORDINATOR_KILLS", 5)
	var worst time.Duration
	for k := range kills {
		cmd := exec.Command(strataBin, append(args, "-n", "100000")...)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "msg=token n=5 ") {
				break
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		died := time.Now()
		cmd.Wait()
		for _, p := range peers {
			if _, ok := waitSessions(t, swarm, p.addr, 5*time.Second); !ok {
				t.Fatalf("kill %d: peer %s still holds a session 5 s after the coordinator died", k, p.addr)
			}
		}
		worst = max(worst, time.Since(died))
		start := time.Now()
		if _, errs, code := strata(t, append(args[1:], "-n", "4")...); code != 0 {
			t.Fatalf("kill %d: the next client: %s", k, errs)
		}
		t.Logf("kill %d: no session left after %v; the next client served in %v", k,
			time.Since(died).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}
	t.Logf("%d coordinators killed; the slowest cleanup took %v", kills, worst.Round(time.Millisecond))
}
