package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"strata/engine"
	"strata/gguf"
)

// onlyManifest makes a directory holding the manifest of dir/split alone,
// as a peer that was given no model file has; edit, if set, changes it.
func onlyManifest(t *testing.T, dir, name string, edit func(m string) string) string {
	t.Helper()
	only := filepath.Join(dir, name)
	if err := os.MkdirAll(only, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "split", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := string(b)
	if edit != nil {
		m = edit(m)
	}
	if err := os.WriteFile(filepath.Join(only, "manifest.json"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	return only
}

// rangeBytes is the size of the tensors layers [start, end) of the tiny
// model load.
func rangeBytes(t *testing.T, start, end int) int64 {
	t.Helper()
	f, err := gguf.Open(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	for _, ti := range engine.FragmentTensors(f, start, end, start == 0, end == 4) {
		n += int64(ti.Size)
	}
	return n
}

// fetchedBytes reads what a peer's log says it fetched for its layers.
func fetchedBytes(t *testing.T, log string) (fetched int64, ok bool) {
	t.Helper()
	b, _ := os.ReadFile(log)
	m := regexp.MustCompile(`msg="(fetched layers|layers held)".* fetched=(\d+)`).FindStringSubmatch(string(b))
	if m == nil {
		return 0, false
	}
	n, _ := strconv.ParseInt(m[2], 10, 64)
	return n, true
}

// TestServeFetchedLayers: a peer holding only a split model's manifest
// serves layers 1-2 of it: it fetches the model's header and those
// layers' tensors, and nothing else, from a peer serving the whole file,
// each checked against the manifest, and a run through it gives one
// process's tokens. Started again, it fetches nothing. Bytes that differ
// from the manifest's hashes are refused, naming the tensor.
func TestServeFetchedLayers(t *testing.T) {
	dir, swarm := swarmDir(t)
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	whole := startServeLayers(t, env, dir, swarm, tinyModel, "0-3", "whole")
	only := onlyManifest(t, dir, "only", nil)
	fetchedPeer := func(name string) *peerProcess {
		addrFile := filepath.Join(dir, name+".addr")
		os.Remove(addrFile)
		p, addr := startNode(t, strataBin, env, dir, name, addrFile, 20*time.Second, "serve", only, "--layers", "1-2",
			"--fetch-from", whole.addr, "--listen", "127.0.0.1:0", "--addr-file", addrFile, "--swarm", swarm, "--backend", "cpu", "-t", "1")
		p.addr = addr
		return p
	}
	p := fetchedPeer("fetched")
	if got, ok := fetchedBytes(t, filepath.Join(dir, "fetched.log")); !ok || got != rangeBytes(t, 1, 3) {
		b, _ := os.ReadFile(filepath.Join(dir, "fetched.log"))
		t.Fatalf("fetched %d bytes (logged: %t), want layers 1-2's %d\n%s", got, ok, rangeBytes(t, 1, 3), b)
	}
	first := startServeLayers(t, env, dir, swarm, tinyModel, "0-0", "first")
	last := startServeLayers(t, env, dir, swarm, tinyModel, "3-3", "last")
	args := []string{"-p", "Once upon a time", "--temp", "0", "-n", "16", "--ignore-eos"}
	local, _ := runJSON(t, nil, append([]string{tinyModel}, args...)...)
	through, _ := runJSON(t, env, append([]string{tinyModel, "--peers", strings.Join([]string{first.addr, p.addr, last.addr}, ","), "--swarm", swarm}, args...)...)
	if !slices.Equal(through.Tokens, local.Tokens) {
		t.Errorf("through the peer that fetched its layers %v, in one process %v", through.Tokens, local.Tokens)
	}

	// Beside its source file, a manifest's layers come from the file.
	beside := onlyManifest(t, dir, "beside", nil)
	if err := os.Symlink(mustAbs(t, tinyModel), filepath.Join(beside, filepath.Base(tinyModel))); err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, "beside.addr")
	startNode(t, strataBin, env, dir, "beside", addrFile, 10*time.Second, "serve", beside, "--layers", "1-2",
		"--listen", "127.0.0.1:0", "--addr-file", addrFile, "--swarm", swarm, "--backend", "cpu", "-t", "1")
	if _, fetched := fetchedBytes(t, filepath.Join(dir, "beside.log")); fetched {
		t.Error("a peer beside the model file fetched its layers")
	}

	p.kill()
	fetchedPeer("again")
	if got, ok := fetchedBytes(t, filepath.Join(dir, "again.log")); !ok || got != 0 {
		t.Errorf("started again, it fetched %d bytes (logged: %t), want none", got, ok)
	}

	// A manifest whose hash of one of the layers' tensors is not what the
	// peer sends: the tensor is refused by name.
	bad := onlyManifest(t, dir, "bad", func(m string) string {
		re := regexp.MustCompile(`("blk\.1\.ffn_down\.weight": ")([0-9a-f])`)
		return re.ReplaceAllStringFunc(m, func(s string) string {
			if strings.HasSuffix(s, "0") {
				return s[:len(s)-1] + "1"
			}
			return s[:len(s)-1] + "0"
		})
	})
	_, errs, code := strataEnv(t, env, "serve", bad, "--layers", "1-2", "--fetch-from", whole.addr, "--swarm", swarm, "--backend", "cpu", "-t", "1")
	if code == 0 || len(stderrLines(errs)) != 1 || !strings.Contains(errs, `tensor "blk.1.ffn_down.weight"`) || !strings.Contains(errs, "the manifest says") {
		t.Errorf("a tensor whose bytes differ from the manifest: exit %d, %q", code, errs)
	}
	// And the header, before any tensor.
	badHeader := onlyManifest(t, dir, "badheader", func(m string) string {
		return regexp.MustCompile(`"header_sha256": "[0-9a-f]{64}"`).ReplaceAllString(m, `"header_sha256": "`+strings.Repeat("0", 64)+`"`)
	})
	_, errs, code = strataEnv(t, env, "serve", badHeader, "--layers", "1-2", "--fetch-from", whole.addr, "--swarm", swarm, "--backend", "cpu", "-t", "1")
	if code == 0 || len(stderrLines(errs)) != 1 || !strings.Contains(errs, "the model's header") || !strings.Contains(errs, "the manifest says") {
		t.Errorf("a header whose bytes differ from the manifest: exit %d, %q", code, errs)
	}
}

// TestSwarmFetchedLayers: a peer that joins a swarm holding only the
// manifest finds a member that serves the model, fetches the header from
// it, and then the tensors of the layers the plan gives it; a run
// through the swarm gives one process's tokens.
func TestSwarmFetchedLayers(t *testing.T) {
	dir, swarm := swarmDir(t)
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	_, seed := startJoined(t, env, dir, swarm, tinyModel, "", "whole")
	only := onlyManifest(t, dir, "only", nil)
	startJoined(t, env, dir, swarm, only, seed, "fetcher")
	log := filepath.Join(dir, "fetcher.log")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, ok := fetchedBytes(t, log); ok {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log)
			t.Fatalf("the peer holding the manifest alone fetched no layers:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	args := []string{"-p", "Once upon a time", "--temp", "0", "-n", "16", "--ignore-eos"}
	local, _ := runJSON(t, nil, append([]string{tinyModel}, args...)...)
	joined, _ := runJSON(t, env, append([]string{tinyModel, "--swarm", swarm, "--join", seed}, args...)...)
	if !slices.Equal(joined.Tokens, local.Tokens) {
		t.Errorf("through the swarm %v, in one process %v", joined.Tokens, local.Tokens)
	}
}
