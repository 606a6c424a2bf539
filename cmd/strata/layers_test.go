package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// startServeLayers starts `strata serve MODEL --layers LAYERS` with env
// added to the environment.
func startServeLayers(t *testing.T, env []string, dir, swarm, model, layers, name string) *peerProcess {
	t.Helper()
	addrFile := filepath.Join(dir, name+".addr")
	p, addr := startNode(t, strataBin, env, dir, name, addrFile, 10*time.Second, "serve", model, "--layers", layers,
		"--listen", "127.0.0.1:0", "--addr-file", addrFile, "--swarm", swarm, "--backend", "cpu", "-t", "1")
	p.addr = addr
	return p
}

// TestServeLayers: three peers serve layers 0-0, 1-2 and 3-3 of the tiny
// model's file itself, none cut by split: a run of the model file through
// them gives the greedy tokens of one process, and so does a run of a
// split manifest of the same file (the peers name the model by the
// file's sha256, the manifest's source). The file is hashed by the first
// peer alone: the others find the sum in the cache.
func TestServeLayers(t *testing.T) {
	dir, swarm := swarmDir(t)
	env := []string{"XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
	var addrs []string
	for i, layers := range []string{"0-0", "1-2", "3-3"} {
		addrs = append(addrs, startServeLayers(t, env, dir, swarm, tinyModel, layers, "layers"+layers).addr)
		b, _ := os.ReadFile(filepath.Join(dir, "layers"+layers+".log"))
		if hashed := strings.Contains(string(b), "hashed the model file once"); hashed != (i == 0) {
			t.Errorf("peer %d hashed the model file: %t\n%s", i, hashed, b)
		}
	}
	args := []string{"--peers", strings.Join(addrs, ","), "--swarm", swarm, "-p", "Once upon a time", "--temp", "0", "-n", "16", "--ignore-eos"}
	local, _ := runJSON(t, nil, tinyModel, "-p", "Once upon a time", "--temp", "0", "-n", "16", "--ignore-eos")
	file, _ := runJSON(t, env, append([]string{tinyModel}, args...)...)
	split, _ := runJSON(t, env, append([]string{filepath.Join(dir, "split")}, args...)...)
	if !slices.Equal(file.Tokens, local.Tokens) || !slices.Equal(split.Tokens, local.Tokens) {
		t.Errorf("through the model file %v, through the manifest %v, in one process %v", file.Tokens, split.Tokens, local.Tokens)
	}
	// A model file that is not the peers' is refused by name.
	other := filepath.Join(dir, "other.gguf")
	b, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, append(b, 0), 0o644); err != nil { // one byte more: another file
		t.Fatal(err)
	}
	_, errs, code := strataEnv(t, env, append([]string{"run", other}, args...)...)
	if code == 0 || !strings.Contains(errs, "serves layers of a model file of sha256") {
		t.Errorf("a run of another model file through the peers: exit %d: %s", code, errs)
	}
}

// TestServeLayersBadInput: a range out of the model's layers, or one that
// is not a range, is refused in one line naming the model's layers.
func TestServeLayersBadInput(t *testing.T) {
	for _, c := range []struct{ layers, want string }{
		{"2-9", "--layers 2-9: the model has layers 0-3"},
		{"3-2", "--layers 3-2: want one range FIRST-LAST of the model's layers 0-3"},
		{"x", "--layers x: want one range FIRST-LAST of the model's layers 0-3"},
		{"0-1,2-3", "--layers 0-1,2-3: want one range FIRST-LAST of the model's layers 0-3"},
		{"", "--layers : want one range FIRST-LAST"},
	} {
		failsWith(t, c.want, "serve", tinyModel, "--layers", c.layers)
	}
	dir, _ := swarmDir(t)
	failsWith(t, "tiny-mistral-q4km.gguf is not beside the manifest: give --fetch-from ADDRS", "serve", filepath.Join(dir, "split"), "--layers", "0-1")
	failsWith(t, "--fragment serves one of the manifest's files; --layers or a swarm's plan serve any layers: give one", "serve", filepath.Join(dir, "split"), "--layers", "0-1", "--fragment", "0")
	failsWith(t, "of a split model: serve it with its manifest", "serve", filepath.Join(dir, "split", "tiny-mistral-q4km.01-of-03.gguf"), "--layers", "0-0")
}
