package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSwarmChurn: three generations of 300 sampled tokens run at once
// through a swarm of four joined peers that changes under them: after
// the first's token 50 a fifth peer joins, once it serves and after token
// 100 a peer of a least-replicated stage is killed (SIGKILL), and after
// token 150 it starts again. Every generation's tokens are exactly those
// of one process; the layers' least replica count is back to what it was
// before the kill within 10 s of it, and the restarted peer is given
// layers.
// STRATA_CHURN_RUNS=N runs it N times; without it the test is skipped,
// as the long benchmarks are: a run takes 20 to 60 s, and its 10 s bound
// on the swarm's recovery waits on failure detection, which a loaded
// machine slows.
func TestSwarmChurn(t *testing.T) {
	runs, err := strconv.Atoi(os.Getenv("STRATA_CHURN_RUNS"))
	if err != nil || runs <= 0 {
		t.Skip("STRATA_CHURN_RUNS=N runs the churn test N times")
	}
	var gens [3]churnGeneration
	for g := range gens {
		gens[g].args = []string{"-p", "Once upon a time", "-n", "300", "--ignore-eos", "--temp", "1", "-s", strconv.Itoa(3 + g)}
		local, _ := runJSON(t, nil, append([]string{tinyModel, "--backend", "cpu"}, gens[g].args...)...)
		gens[g].want = local.Tokens
	}
	passed := 0
	for run := range runs {
		if t.Run(strconv.Itoa(run), func(t *testing.T) { testSwarmChurn(t, gens) }) {
			passed++
		}
	}
	t.Logf("%d of %d churn runs passed", passed, runs)
}

// A churnGeneration is one generation of the churn test: its run flags
// and the tokens of one process.
type churnGeneration struct {
	args []string
	want []int32
}

// tokenLine matches a --verbose run's log line of token n.
var tokenLine = regexp.MustCompile(`msg=token n=(\d+) `)

func testSwarmChurn(t *testing.T, gens [3]churnGeneration) {
	start := time.Now()
	dir, swarm := swarmDir(t)
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	names := []string{"peer0", "peer1", "peer2", "peer3", "peer4"}
	logs := append(slices.Clone(names), "again")
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range logs {
				if b, err := os.ReadFile(filepath.Join(dir, name+".log")); err == nil {
					t.Logf("%s:\n%s", name, b)
				}
			}
		}
	})
	procs := make([]*peerProcess, len(names))
	var seed string
	procs[0], seed = startJoined(t, env, dir, swarm, tinyModel, "", names[0])
	for i := 1; i < 4; i++ {
		procs[i], _ = startJoined(t, env, dir, swarm, tinyModel, seed, names[i])
	}
	if _, ranges, ok := servedRanges(t, swarm, dir, names[:4], 20*time.Second, func(ranges map[string][2]int, _ []string) bool {
		return len(ranges) == 4
	}); !ok {
		t.Fatalf("four joined peers serve %v after 20 s", ranges)
	}

	// The generations, each a client of its own; the first's log reports
	// its tokens' numbers.
	progress := make(chan int, 400)
	var wg sync.WaitGroup
	errs := make([]error, len(gens))
	for g := range gens {
		wg.Go(func() {
			var report chan<- int
			if g == 0 {
				report = progress
			}
			errs[g] = churnRun(env, swarm, seed, gens[g], report)
		})
	}
	after := func(n int) bool { // waits for the first generation's token n
		for got := range progress {
			if got >= n {
				return true
			}
		}
		return false
	}
	churn := func() error {
		if !after(50) {
			return fmt.Errorf("the generation ended before token 50")
		}
		procs[4], _ = startJoined(t, env, dir, swarm, tinyModel, seed, names[4])
		addrs, ranges, ok := servedRanges(t, swarm, dir, names, 20*time.Second, func(ranges map[string][2]int, _ []string) bool {
			return len(ranges) == len(names)
		})
		if !ok {
			return fmt.Errorf("five joined peers serve %v 20 s after the fifth joined", ranges)
		}
		end := 0
		for _, r := range ranges {
			end = max(end, r[1])
		}
		before := leastServed(ranges, addrs, end)
		victim := -1
		for i, a := range addrs {
			if r := ranges[a]; r[1] > r[0] && served(ranges, addrs, r[0]) == before {
				victim = i
			}
		}
		if before < 2 || victim < 0 {
			return fmt.Errorf("a layer of the five peers' plan has no replica: %v", ranges)
		}
		if !after(100) {
			return fmt.Errorf("the generation ended before token 100, while the fifth peer joined")
		}
		layers := ranges[addrs[victim]]
		t.Logf("layers by peer %v; killing %s (layers %d-%d)", ranges, names[victim], layers[0], layers[1]-1)
		procs[victim].kill()
		killed := time.Now()
		restored := make(chan error, 1)
		go func() {
			live := slices.Delete(slices.Clone(names), victim, victim+1)
			_, ranges, ok := servedRanges(t, swarm, dir, live, 10*time.Second, func(ranges map[string][2]int, addrs []string) bool {
				return leastServed(ranges, addrs, end) >= before
			})
			if !ok {
				restored <- fmt.Errorf("10 s after the kill a layer is on fewer than %d live peers: %v", before, ranges)
				return
			}
			t.Logf("every layer on %d live peers again %v after the kill: %v", before, time.Since(killed).Round(10*time.Millisecond), ranges)
			restored <- nil
		}()
		if !after(150) {
			return fmt.Errorf("the generation ended before token 150, after the kill")
		}
		procs[victim], _ = startJoined(t, env, dir, swarm, tinyModel, seed, "again")
		names[victim] = "again"
		return <-restored
	}()
	for range progress { // the rest of the first generation's log
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Errorf("generation %d: %v", g, err)
		}
	}
	if churn != nil {
		t.Fatal(churn)
	}
	if _, ranges, ok := servedRanges(t, swarm, dir, names, 20*time.Second, func(ranges map[string][2]int, _ []string) bool {
		return len(ranges) == len(names)
	}); !ok {
		t.Fatalf("the restarted peer serves nothing 20 s after the generations: %v", ranges)
	}
	t.Logf("three generations through the churning swarm in %v", time.Since(start).Round(100*time.Millisecond))
}

// churnRun runs one churn generation through the swarm, sends the
// numbers of its tokens to progress (if not nil, closed at the end), and
// checks its tokens are those of one process.
func churnRun(env []string, swarm, seed string, g churnGeneration, progress chan<- int) error {
	if progress != nil {
		defer close(progress)
	}
	cmd := exec.Command(strataBin, append([]string{"--verbose", "run", tinyModel, "--swarm", swarm, "--join", seed, "--json"}, g.args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out strings.Builder
	cmd.Stdout = &out
	logs, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return err
	}
	var errs strings.Builder
	sc := bufio.NewScanner(logs)
	for sc.Scan() {
		line := sc.Text()
		errs.WriteString(line + "\n")
		if m := tokenLine.FindStringSubmatch(line); m != nil && progress != nil {
			n, _ := strconv.Atoi(m[1])
			progress <- n
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("run through the swarm: %v\n%s", err, errs.String())
	}
	var got runOut
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil || !slices.Equal(got.Tokens, g.want) {
		return fmt.Errorf("through the churning swarm %v, one process %v (%v)\n%s", got.Tokens, g.want, err, errs.String())
	}
	return nil
}

// served returns how many of the peers addrs serve layer, by their ranges.
func served(ranges map[string][2]int, addrs []string, layer int) int {
	n := 0
	for _, a := range addrs {
		if r, ok := ranges[a]; ok && r[0] <= layer && layer < r[1] {
			n++
		}
	}
	return n
}

// leastServed returns the fewest of the peers addrs that serve any one
// of the first end layers, by their ranges.
func leastServed(ranges map[string][2]int, addrs []string, end int) int {
	least := 0
	for layer := range end {
		if n := served(ranges, addrs, layer); layer == 0 || n < least {
			least = n
		}
	}
	return least
}
