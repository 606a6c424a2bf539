package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSizesRefused runs every command that computes with sizes whose
// memory no machine has, or that are not sizes at all: each is refused
// at once, in one line that gives the memory it needs and the machine's,
// before anything is allocated (they ended in 'fatal error: runtime: out
// of memory', or were accepted and killed the peer at its first session).
func TestSizesRefused(t *testing.T) {
	wide := buildModel(t, "wide.gguf", wideSpec())
	dir := t.TempDir()
	if _, errs, code := strata(t, "split", wide, "--parts", "2", "-o", filepath.Join(dir, "split")); code != 0 {
		t.Fatalf("split: %s", errs)
	}
	swarm := filepath.Join(dir, "swarm")
	if _, errs, code := strata(t, "swarm", "init", "-o", swarm); code != 0 {
		t.Fatalf("swarm init: %s", errs)
	}
	serve := func(args ...string) []string {
		return append([]string{"serve", filepath.Join(dir, "split"), "--fragment", "1", "--swarm", swarm, "--backend", "cpu"}, args...)
	}
	kv := "the KV cache 1.0 TiB (8 layers × 16777216 positions × 1024 values × 4 bytes × 2)"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"run context", []string{"run", wide, "-p", "hi", "-c", "16777216"}, "-c 16777216: needs 1.0 TiB: " + kv},
		{"run context past the largest", []string{"run", tinyModel, "-p", "hi", "-c", "16777217"}, "-c 16777217: want a context of 1 to 16777216 positions"},
		{"run batch", []string{"run", tinyModel, "-p", "hi", "-b", "100000000"}, "-b 100000000: needs 1.2 TiB: activations 1.2 TiB (batches of 100000000); the machine's memory is"},
		{"run batch past int64 bytes", []string{"run", tinyModel, "-p", "hi", "-b", "9223372036854775807"}, "needs more than 8 EiB"},
		{"run batch 0", []string{"run", tinyModel, "-p", "hi", "-b", "0"}, "-b 0: batch size must be positive"},
		{"chat context", []string{"chat", wide, "-c", "16777216"}, "-c 16777216: needs 1.0 TiB: " + kv},
		{"chat batch", []string{"chat", tinyModel, "-b", "100000000"}, "-b 100000000: needs 1.2 TiB"},
		{"bench prompt", []string{"bench", "model", wide, "-p", "16777216", "-n", "0"}, "-p 16777216: needs 1.0 TiB: " + kv},
		{"bench generation", []string{"bench", "model", wide, "-p", "0", "-n", "16777216"}, "-n 16777216: needs 1.0 TiB"},
		{"bench batch", []string{"bench", "model", tinyModel, "-b", "100000000"}, "-b 100000000: needs 1.2 TiB"},
		{"logits batch", []string{"logits", tinyModel, "--tokens", "1", "-o", filepath.Join(dir, "o"), "-b", "100000000"}, "-b 100000000: needs"},
		{"serve context", serve("--ctx-size", "16777216"), "--ctx-size 16777216: needs 512.0 GiB: the KV cache 512.0 GiB (4 layers × 16777216 positions"},
		{"serve context past the largest", serve("--ctx-size", "100000000"), "--ctx-size 100000000: want a context of 1 to 16777216 positions"},
		{"serve context 0", serve("--ctx-size", "0"), "--ctx-size 0: want a context of 1 to 16777216 positions"},
		{"serve batch", serve("-b", "100000000"), "-b 100000000: needs"},
		{"serve batch 0", serve("-b", "0"), "-b 0: batch size must be positive"},
		{"serve sessions 0", serve("--max-sessions", "0"), "--max-sessions 0: want 1 or more"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := strataLimit(t, time.Minute, c.args...)
			errorLine(t, out, errs, code, c.want)
		})
	}
}

// TestThreadsRefused: -t far past the cores (it cost 1.3 GB at 100000)
// is refused by every command that computes, not only run.
func TestThreadsRefused(t *testing.T) {
	dir, swarm := swarmDir(t)
	for _, args := range [][]string{
		{"run", tinyModel, "-p", "hi"},
		{"chat", tinyModel},
		{"logits", tinyModel, "--tokens", "1", "-o", filepath.Join(dir, "o")},
		{"bench", "model", tinyModel},
		{"bench", "kernels"},
		{"serve", filepath.Join(dir, "split"), "--fragment", "1", "--swarm", swarm},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			out, errs, code := strataLimit(t, time.Minute, append(args, "-t", "100000")...)
			errorLine(t, out, errs, code, "-t 100000: at most")
		})
	}
}
