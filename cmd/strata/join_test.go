package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// startJoined starts `strata serve MODEL --swarm SWARM` joining through
// the gossip address join (none: it starts the swarm), with no layers
// given, and returns once it gossips, with its gossip address.
func startJoined(t *testing.T, env []string, dir, swarm, model, join, name string, extra ...string) (*peerProcess, string) {
	t.Helper()
	gossipFile := filepath.Join(dir, name+".gossip")
	logPath := filepath.Join(dir, name+".log")
	log, _ := os.Create(logPath)
	args := []string{"serve", model, "--swarm", swarm, "--listen", "127.0.0.1:0", "--addr-file", filepath.Join(dir, name+".addr"),
		"--gossip-addr", "127.0.0.1:0", "--gossip-addr-file", gossipFile, "--backend", "cpu", "-t", "1"}
	if join != "" {
		args = append(args, "--join", join)
	}
	cmd := exec.Command(strataBin, append(args, extra...)...)
	cmd.Stderr = log
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peerProcess{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	for range 800 {
		if b, err := os.ReadFile(gossipFile); err == nil && len(b) > 0 {
			return p, strings.TrimSpace(string(b))
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("peer %s did not join: %s", name, b)
	return nil, ""
}

// TestSwarmJoin: three peers join a swarm with one command each and no
// layers given; the coordinator's plan gives each its layers (the log
// says which), and a run through the swarm, with no address of a peer's
// data path given, gives the greedy tokens of one process. A client and
// a peer holding another swarm's secret cannot join, and so are given
// nothing to compute and learn nothing of the plan.
func TestSwarmJoin(t *testing.T) {
	dir, swarm := swarmDir(t)
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	_, seed := startJoined(t, env, dir, swarm, tinyModel, "", "peer0")
	for _, name := range []string{"peer1", "peer2"} {
		startJoined(t, env, dir, swarm, tinyModel, seed, name)
	}
	args := []string{"-p", "Once upon a time", "--temp", "0", "-n", "24", "--ignore-eos"}
	local, _ := runJSON(t, nil, append([]string{tinyModel, "--backend", "cpu"}, args...)...)
	out, errs, code := strataEnv(t, env, append([]string{"--verbose", "run", tinyModel, "--swarm", swarm, "--join", seed, "--json"}, args...)...)
	var joined runOut
	if code != 0 || json.Unmarshal([]byte(out), &joined) != nil {
		t.Fatalf("run through the swarm: exit %d, %q %q", code, out, errs)
	}
	if !slices.Equal(joined.Tokens, local.Tokens) {
		t.Errorf("through the swarm %v, one process %v\n%s", joined.Tokens, local.Tokens, errs)
	}
	if !strings.Contains(errs, "routing by the swarm's plan") {
		t.Errorf("the run did not say it routed by the plan:\n%s", errs)
	}
	serving := 0
	for _, name := range []string{"peer0", "peer1", "peer2"} {
		b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
		if strings.Contains(string(b), "msg=serving") {
			serving++
		}
	}
	if serving < 2 {
		t.Errorf("%d peers serve layers, want the model placed on at least 2", serving)
	}

	other := filepath.Join(dir, "other")
	if _, errs, code := strata(t, "swarm", "init", "-o", other); code != 0 {
		t.Fatalf("swarm init: %s", errs)
	}
	_, errs, code = strataEnv(t, env, append([]string{"run", tinyModel, "--swarm", other, "--join", seed, "--join-timeout", "3s"}, args...)...)
	if code == 0 || strings.Count(strings.TrimSpace(errs), "\n") > 0 || !strings.Contains(errs, "join") {
		t.Errorf("a client with another secret: exit %d, %q, want one line saying it could not join", code, errs)
	}
	out, errs, code = strataEnv(t, env, "serve", tinyModel, "--swarm", other, "--join", seed, "--gossip-addr", "127.0.0.1:0", "-t", "1")
	if code == 0 || !strings.Contains(errs, "join") {
		t.Errorf("a peer with another secret: exit %d, %q %q, want it refused", code, out, errs)
	}
}

// TestSwarmJoinBadInput: the flags that conflict with a swarm's plan are
// refused in one line.
func TestSwarmJoinBadInput(t *testing.T) {
	dir, swarm := swarmDir(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", tinyModel, "--swarm", swarm, "--join", "127.0.0.1:1", "--layers", "0-1"}, "--layers with a swarm to join"},
		{[]string{"serve", filepath.Join(dir, "split"), "--swarm", swarm, "--join", "127.0.0.1:1", "--fragment", "0"}, "not a split model's fragment"},
		{[]string{"run", tinyModel, "--swarm", swarm, "--join", "127.0.0.1:1", "--peers", "127.0.0.1:2", "-p", "hi"}, "--peers and a swarm to join"},
	} {
		_, errs, code := strata(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, %q, want one line with %q", c.args, code, errs, c.want)
		}
	}
}
