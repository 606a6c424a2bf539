package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSwarmPlacesBySpeed: four peers of unequal speed join a swarm with
// one command each and no layers given. Two are slowed three times (the
// faults build's STRATA_FAULT=slowdown=3, which their self-measurement
// sees); the coordinator's plan, as the peers serve it, gives every slowed
// peer fewer layers than every fast one, across four stages. A run
// through the swarm gives the greedy tokens of one process.
func TestSwarmPlacesBySpeed(t *testing.T) {
	bin := faultsBin(t)
	// Layers whose weights outweigh the head's many times over, so that
	// the layers, not the head, decide the stages. A slowed peer's sleeps
	// of under a millisecond last about one (Go's timers), so it measures
	// itself 4 to 6 times slower than the fast ones, not 3; with 24
	// layers, a plan of four stages, the slowed peers' the shortest, is
	// the fastest for any ratio above 1 and up to about 11.
	spec := smallSpec()
	spec.Layers, spec.Embedding, spec.FeedForward, spec.Heads = 24, 512, 4096, 4
	model := buildModel(t, "sixteen.gguf", spec)
	dir, swarm := swarmDir(t)
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	names := []string{"fast0", "slow0", "fast1", "slow1"}
	slowed := func(name string) bool { return strings.HasPrefix(name, "slow") }
	var seed string
	for _, name := range names {
		e := env
		if slowed(name) {
			e = append(slices.Clone(env), "STRATA_FAULT=slowdown=3")
		}
		_, gossip := startJoinedWith(t, bin, e, dir, swarm, model, seed, name)
		if seed == "" {
			seed = gossip
		}
	}
	logs := func() string {
		var b strings.Builder
		for _, name := range names {
			log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			b.WriteString(name + ":\n" + string(log))
		}
		return b.String()
	}

	// The plan naming all four has been applied once the peers serve
	// four ranges that cover the model.
	addrs, ranges, ok := servedRanges(t, swarm, dir, names, 30*time.Second, func(ranges map[string][2]int, addrs []string) bool {
		return stagesCover(ranges, addrs, spec.Layers)
	})
	if !ok {
		t.Fatalf("no plan of four stages served after 30 s: %v\n%s", ranges, logs())
	}
	count := func(i int) int { r := ranges[addrs[i]]; return r[1] - r[0] }
	for i, s := range names {
		for j, f := range names {
			if slowed(s) && !slowed(f) && count(i) >= count(j) {
				t.Errorf("%s serves %d layers, %s %d: want the slowed peer given fewer", s, count(i), f, count(j))
			}
		}
	}
	for i, name := range names {
		log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
		_, measured, _ := strings.Cut(string(log), "msg=measured ")
		measured, _, _ = strings.Cut(measured, " prompt_layer_ms")
		t.Logf("%s: layers %d-%d (measured %s)", name, ranges[addrs[i]][0], ranges[addrs[i]][1]-1, measured)
	}
	if t.Failed() {
		t.Log(logs())
	}

	args := []string{"-p", "Once upon a time", "--temp", "0", "-n", "8", "--ignore-eos"}
	local, _ := runJSON(t, nil, append([]string{model, "--backend", "cpu"}, args...)...)
	joined, _ := runJSON(t, env, append([]string{model, "--swarm", swarm, "--join", seed}, args...)...)
	if !slices.Equal(joined.Tokens, local.Tokens) {
		t.Errorf("through the swarm %v, one process %v", joined.Tokens, local.Tokens)
	}
}

// stagesCover reports whether the peers at addrs serve len(addrs)
// different ranges that together are layers [0, layers), one after
// another.
func stagesCover(ranges map[string][2]int, addrs []string, layers int) bool {
	var rs [][2]int
	for _, a := range addrs {
		r, ok := ranges[a]
		if !ok {
			return false
		}
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b [2]int) int { return a[0] - b[0] })
	end := 0
	for _, r := range rs {
		if r[0] != end || r[1] <= r[0] {
			return false
		}
		end = r[1]
	}
	return end == layers
}
