package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

// swarmDir splits the tiny model in three and makes a swarm secret.
func swarmDir(t *testing.T) (dir, swarm string) {
	dir = t.TempDir()
	if _, errs, code := strata(t, "split", tinyModel, "--layers", "0-0,1-2,3-3", "-o", filepath.Join(dir, "split")); code != 0 {
		t.Fatalf("split: %s", errs)
	}
	swarm = filepath.Join(dir, "swarm")
	if _, errs, code := strata(t, "swarm", "init", "-o", swarm); code != 0 {
		t.Fatalf("swarm init: %s", errs)
	}
	return dir, swarm
}

// peerProcess is a `strata serve` process.
type peerProcess struct {
	cmd    *exec.Cmd
	addr   string
	waited chan struct{} // closed when a goroutine's Wait returned; nil when kill waits itself
}

func startServe(t *testing.T, dir, swarm string, fragment int, name string) *peerProcess {
	return startServeWith(t, strataBin, nil, dir, swarm, fragment, name)
}

// startServeWith starts `bin serve` with env added to the environment.
func startServeWith(t *testing.T, bin string, env []string, dir, swarm string, fragment int, name string) *peerProcess {
	addrFile := filepath.Join(dir, name+".addr")
	os.Remove(addrFile)
	p, addr := startNode(t, bin, env, dir, name, addrFile, 5*time.Second, "serve", filepath.Join(dir, "split"), "--fragment", strconv.Itoa(fragment),
		"--listen", "127.0.0.1:0", "--addr-file", addrFile, "--swarm", swarm, "--backend", "cpu", "-t", "1")
	p.addr = addr
	return p
}

// startNode starts `bin args...` with env added to the environment and
// its standard error in DIR/NAME.log, killed when the test ends, and
// returns once it has written ready (an address file), with what it
// wrote; the test fails with the log if that takes longer than wait.
func startNode(t *testing.T, bin string, env []string, dir, name, ready string, wait time.Duration, args ...string) (*peerProcess, string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	log, _ := os.Create(logPath)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = log
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peerProcess{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			return p, strings.TrimSpace(string(b))
		}
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("%s did not start: %s", name, b)
	return nil, ""
}

func (p *peerProcess) kill() {
	if p.waited != nil { // another goroutine waits for the process
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.waited
		return
	}
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// stallAfter reads a `--verbose run`'s log, calls act after token n, and
// returns when it did and the longest wait for a token after that: lines
// can arrive together, so a failover may come a few tokens on.
func stallAfter(log io.Reader, n int, act func()) (acted time.Time, stall time.Duration) {
	var prev time.Time
	sc := bufio.NewScanner(log)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "msg=token n=") {
			continue
		}
		now := time.Now()
		if !acted.IsZero() {
			stall = max(stall, now.Sub(prev))
		}
		prev = now
		if strings.Contains(line, fmt.Sprintf("msg=token n=%d ", n)) {
			act()
			acted = now
		}
	}
	return acted, stall
}

type peersResult struct {
	Tokens []int32 `json:"tokens"`
	Peers  []struct {
		Addr     string `json:"addr"`
		Replaced int    `json:"replaced"`
		Checked  int    `json:"checked"`
	} `json:"peers"`
}

// TestKillMiddlePeer kills (SIGKILL) the peer serving the middle layers
// after the 5th of 200 generated tokens; its replica takes over and the
// tokens are exactly those of an uninterrupted run. STRATA_KILL_RUNS sets
// how many times (default 2).
func TestKillMiddlePeer(t *testing.T) {
	dir, swarm := swarmDir(t)
	first := startServe(t, dir, swarm, 0, "first")
	replica := startServe(t, dir, swarm, 1, "replica")
	last := startServe(t, dir, swarm, 2, "last")
	prompt := "Once upon a time, there was a little robot who"
	args := func(middle string) []string {
		return []string{"--verbose", "run", filepath.Join(dir, "split", "manifest.json"), "--swarm", swarm,
			"--peers", strings.Join([]string{first.addr, middle, replica.addr, last.addr}, ","),
			"-p", prompt, "-n", "200", "--temp", "0", "--ignore-eos", "--json"}
	}
	middle := startServe(t, dir, swarm, 1, "middle")
	out, errs, code := strata(t, args(middle.addr)[1:]...)
	var want peersResult
	if code != 0 || json.Unmarshal([]byte(out), &want) != nil || len(want.Tokens) != 200 {
		t.Fatalf("uninterrupted run: exit %d %s", code, errs)
	}
	runs := 2
	if n, err := strconv.Atoi(os.Getenv("STRATA_KILL_RUNS")); err == nil {
		runs = n
	}
	passed := 0
	for run := range runs {
		if run > 0 {
			middle = startServe(t, dir, swarm, 1, fmt.Sprintf("middle%d", run))
		}
		cmd := exec.Command(strataBin, args(middle.addr)...)
		stderr, _ := cmd.StderrPipe()
		var stdout strings.Builder
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killed, stall := stallAfter(stderr, 5, middle.kill)
		if err := cmd.Wait(); err != nil {
			t.Errorf("run %d: %v", run, err)
			continue
		}
		var got peersResult
		if err := json.Unmarshal([]byte(stdout.String()), &got); err != nil {
			t.Errorf("run %d: %v", run, err)
			continue
		}
		switch {
		case !slices.Equal(got.Tokens, want.Tokens):
			t.Errorf("run %d: tokens differ from the uninterrupted run", run)
		case got.Peers[1].Addr != replica.addr || got.Peers[1].Replaced != 1:
			t.Errorf("run %d: middle hop %+v, want the replica %s", run, got.Peers[1], replica.addr)
		case killed.IsZero() || stall > 3*time.Second:
			t.Errorf("run %d: stall %v", run, stall)
		default:
			passed++
		}
		t.Logf("run %d: stall after the kill %v", run, stall)
	}
	t.Logf("%d of %d runs passed", passed, runs)
}

// TestAlteredFragment: a fragment file changed by one byte is refused,
// naming the fragment and the hash mismatch.
func TestAlteredFragment(t *testing.T) {
	dir, swarm := swarmDir(t)
	b, _ := os.ReadFile(filepath.Join(dir, "split", "manifest.json"))
	var m struct{ Fragments []struct{ File string } }
	json.Unmarshal(b, &m)
	path := filepath.Join(dir, "split", m.Fragments[1].File)
	data, _ := os.ReadFile(path)
	data[len(data)-1] ^= 1
	os.WriteFile(path, data, 0o644)
	_, errs, code := strata(t, "serve", filepath.Join(dir, "split"), "--fragment", "1", "--swarm", swarm)
	if code == 0 || !strings.Contains(errs, "fragment 1 ("+m.Fragments[1].File+"): sha256 is") || !strings.Contains(errs, "refusing to serve it") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// TestFetchAndPeers: a peer whose fragment file is missing fetches it
// from another peer (checked by sha256) and serves it; `strata peers`
// reports both, and a client without the secret is refused.
func TestFetchAndPeers(t *testing.T) {
	dir, swarm := swarmDir(t)
	holder := startServe(t, dir, swarm, 1, "holder")
	b, _ := os.ReadFile(filepath.Join(dir, "split", "manifest.json"))
	var m struct {
		Fragments []struct{ File, SHA256 string }
	}
	json.Unmarshal(b, &m)
	// A second directory with the manifest but without the fragment file.
	other := filepath.Join(dir, "other")
	os.MkdirAll(filepath.Join(other, "split"), 0o755)
	os.WriteFile(filepath.Join(other, "split", "manifest.json"), b, 0o644)
	addrFile := filepath.Join(dir, "fetcher.addr")
	cmd := exec.Command(strataBin, "serve", filepath.Join(other, "split"), "--fragment", "1", "--listen", "127.0.0.1:0",
		"--addr-file", addrFile, "--swarm", swarm, "--backend", "cpu", "--fetch-from", holder.addr)
	var errs strings.Builder
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fetcher := &peerProcess{cmd: cmd}
	defer fetcher.kill()
	for range 200 {
		if a, err := os.ReadFile(addrFile); err == nil && len(a) > 0 {
			fetcher.addr = strings.TrimSpace(string(a))
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if fetcher.addr == "" {
		t.Fatalf("the fetching peer did not start: %s", errs.String())
	}
	if got, err := os.ReadFile(filepath.Join(other, "split", m.Fragments[1].File)); err != nil || len(got) == 0 {
		t.Fatalf("fragment not fetched: %v", err)
	}
	out, serr, code := strata(t, "peers", "--peers", holder.addr+","+fetcher.addr, "--swarm", swarm, "--json")
	var rows []struct {
		Addr string
		Info *struct {
			ID     string `json:"id"`
			Start  int    `json:"start"`
			End    int    `json:"end"`
			SHA256 string `json:"sha256"`
		}
		RTTUS int64 `json:"rtt_us"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 {
		t.Fatalf("peers: exit %d %q %q", code, out, serr)
	}
	for _, r := range rows {
		if r.Info == nil || r.Info.Start != 1 || r.Info.End != 3 || r.Info.SHA256 != m.Fragments[1].SHA256 || r.RTTUS <= 0 {
			t.Errorf("peer %s: %+v", r.Addr, r.Info)
		}
	}
	// Without the secret: refused, clearly.
	bad := filepath.Join(dir, "other.key")
	strata(t, "swarm", "init", "-o", bad)
	out, _, _ = strata(t, "peers", "--peers", holder.addr, "--swarm", bad)
	if !strings.Contains(out, "wrong swarm secret") && !strings.Contains(out, "not authenticated") {
		t.Errorf("a client without the secret: %q", out)
	}
}

// TestPeerDiesWithoutReplica kills the peer serving the middle layers,
// which has no replica, after the 5th token: run --json still prints what
// was generated, with stop "error" and the error, and exits non-zero (it
// printed nothing).
func TestPeerDiesWithoutReplica(t *testing.T) {
	dir, swarm := swarmDir(t)
	first := startServe(t, dir, swarm, 0, "first")
	middle := startServe(t, dir, swarm, 1, "middle")
	last := startServe(t, dir, swarm, 2, "last")
	cmd := exec.Command(strataBin, "--verbose", "run", filepath.Join(dir, "split", "manifest.json"), "--swarm", swarm,
		"--peers", strings.Join([]string{first.addr, middle.addr, last.addr}, ","),
		"-p", "Once upon a time", "-n", "200", "--temp", "0", "--ignore-eos", "--json")
	stderr, _ := cmd.StderrPipe()
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	var errLines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "msg=token n=5 ") {
			middle.kill()
		}
		if strings.HasPrefix(line, "strata: ") {
			errLines = append(errLines, line)
		}
	}
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("exit 0 after the middle peer died; stdout %q", stdout.String())
	}
	var r struct {
		Tokens []int32 `json:"tokens"`
		Text   string  `json:"text"`
		Stop   string  `json:"stop"`
		Error  string  `json:"error"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &r); err != nil {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
	if r.Stop != "error" || len(r.Tokens) < 5 || len(r.Tokens) >= 200 || r.Text == "" || !strings.Contains(r.Error, "no live peer serves layers 1-2") {
		t.Errorf("stop %q after %d tokens (text %q), error %q", r.Stop, len(r.Tokens), r.Text, r.Error)
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "no live peer serves layers 1-2") {
		t.Errorf("error lines %q", errLines)
	}
}

// TestServeLogsFileLayers: serve logs the layers its fragment file holds,
// and says so when the manifest claims others (it logged the manifest's).
func TestServeLogsFileLayers(t *testing.T) {
	dir, swarm := swarmDir(t)
	path := filepath.Join(dir, "split", "manifest.json")
	b, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	// Files hold layers 0-0, 1-2, 3-3; the manifest now says 0-1, 2-2, 3-3.
	frags := m["fragments"].([]any)
	frags[0].(map[string]any)["end"] = 2
	frags[1].(map[string]any)["start"] = 2
	b, _ = json.Marshal(m)
	os.WriteFile(path, b, 0o644)
	startServe(t, dir, swarm, 1, "lied")
	log, _ := os.ReadFile(filepath.Join(dir, "lied.log"))
	if !strings.Contains(string(log), "msg=serving") || !strings.Contains(string(log), "layers=1-2") {
		t.Errorf("serve log %q, want layers=1-2 (the file's)", log)
	}
	if !strings.Contains(string(log), "manifest=2-2 file=1-2") {
		t.Errorf("serve log %q, want a warning that the manifest says 2-2", log)
	}
}

// TestPeersAllFailed: `strata peers` exits non-zero when no peer answers,
// still printing each one's error.
func TestPeersAllFailed(t *testing.T) {
	dir := t.TempDir()
	swarm := filepath.Join(dir, "swarm")
	if _, errs, code := strata(t, "swarm", "init", "-o", swarm); code != 0 {
		t.Fatalf("swarm init: %s", errs)
	}
	var addrs []string
	for range 2 { // ports nothing listens on
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, c.LocalAddr().String())
		c.Close()
	}
	out, errs, code := strata(t, "peers", "--peers", strings.Join(addrs, ","), "--swarm", swarm)
	errorLine(t, out, errs, code, "no peer answered (2 of 2 failed)")
	for _, a := range addrs {
		if !strings.Contains(out, a) {
			t.Errorf("no row for %s in %q", a, out)
		}
	}
}
