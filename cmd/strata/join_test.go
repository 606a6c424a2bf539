package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// startJoined starts `strata serve MODEL --swarm SWARM` joining through
// the gossip address join (none: it starts the swarm), with no layers
// given, and returns once it gossips, with its gossip address.
func startJoined(t *testing.T, env []string, dir, swarm, model, join, name string) (*peerProcess, string) {
	t.Helper()
	return startJoinedWith(t, strataBin, env, dir, swarm, model, join, name)
}

// startJoinedWith is startJoined of the binary bin.
func startJoinedWith(t *testing.T, bin string, env []string, dir, swarm, model, join, name string) (*peerProcess, string) {
	t.Helper()
	gossipFile := filepath.Join(dir, name+".gossip")
	args := []string{"serve", model, "--swarm", swarm, "--listen", "127.0.0.1:0", "--addr-file", filepath.Join(dir, name+".addr"),
		"--gossip-addr", "127.0.0.1:0", "--gossip-addr-file", gossipFile, "--backend", "cpu", "-t", "1"}
	if join != "" {
		args = append(args, "--join", join)
	}
	return startNode(t, bin, env, dir, name, gossipFile, 20*time.Second, args...)
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
		{[]string{"serve", filepath.Join(dir, "split"), "--swarm", swarm, "--join", "127.0.0.1:1", "--fragment", "0"}, "--fragment serves one of the manifest's files"},
		{[]string{"run", tinyModel, "--swarm", swarm, "--join", "127.0.0.1:1", "--peers", "127.0.0.1:2", "-p", "hi"}, "--peers and a swarm to join"},
	} {
		_, errs, code := strata(t, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, %q, want one line with %q", c.args, code, errs, c.want)
		}
	}
}

// peerRanges asks the peers at addrs what they serve now: layer ranges
// [start, end) by address, for those that answer.
func peerRanges(t *testing.T, swarm string, addrs []string) map[string][2]int {
	t.Helper()
	out, _, _ := strata(t, "peers", "--swarm", swarm, "--peers", strings.Join(addrs, ","), "--json")
	var rows []peerRow
	json.Unmarshal([]byte(out), &rows)
	got := map[string][2]int{}
	for _, r := range rows {
		if r.Info != nil {
			got[r.Addr] = [2]int{r.Info.Start, r.Info.End}
		}
	}
	return got
}

// servedRanges reads the addresses of the peers names (their DIR/NAME.addr
// files) and asks them what they serve (peerRanges) every 200 ms until
// done says it will do, or within has passed. It returns the addresses
// and the ranges of the last look, and whether done said so.
func servedRanges(t *testing.T, swarm, dir string, names []string, within time.Duration, done func(ranges map[string][2]int, addrs []string) bool) ([]string, map[string][2]int, bool) {
	t.Helper()
	addrs := make([]string, len(names))
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		for i, name := range names {
			b, _ := os.ReadFile(filepath.Join(dir, name+".addr"))
			addrs[i] = strings.TrimSpace(string(b))
		}
		ranges := peerRanges(t, swarm, addrs)
		if done(ranges, addrs) {
			return addrs, ranges, true
		}
		if time.Now().After(deadline) {
			return addrs, ranges, false
		}
	}
}
