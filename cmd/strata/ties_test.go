package main

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"strata/engine/testmodel"
	"strata/gguf"
)

// tiedHeadRuns is how many tokens share each row of the tie model's head.
const tiedHeadRuns = 3

// tieModel writes a 3-layer model with the llama SentencePiece vocabulary
// whose head repeats every row tiedHeadRuns times: the logits of tokens
// 3i, 3i+1 and 3i+2 are always equal, so whatever the top-k, a tie
// straddles its edge as soon as k is not a multiple of 3.
func tieModel(t *testing.T) (path string, vocabSize int) {
	t.Helper()
	vocab, err := gguf.Open(filepath.Join("..", "..", "testdata", "vocab", "ggml-vocab-llama-spm.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer vocab.Close()
	var meta []gguf.KV
	for _, kv := range vocab.KV {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			meta = append(meta, kv)
		}
	}
	tokens, err := vocab.Array("tokenizer.ggml.tokens")
	if err != nil {
		t.Fatal(err)
	}
	// Q8_0 throughout: with testmodel's random Q4_K weights (the default)
	// the logits hardly depend on the input, and one token always wins.
	q8 := map[string]gguf.TensorType{}
	for _, role := range []string{"token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
		q8[role] = gguf.Q8_0
	}
	data, err := testmodel.Build(testmodel.Spec{
		Layers: 3, Embedding: 256, FeedForward: 512, Heads: 2, KVHeads: 1, HeadDim: 128,
		Vocab: tokens.Len(), Context: 256, RopeBase: 10000, NormEps: 1e-5,
		Types: q8, RepeatRows: tiedHeadRuns, Metadata: meta, Seed: 13,
	})
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "ties.gguf", data), tokens.Len()
}

// TestTiesLocalAndPeers: on a model whose logits tie in runs of three,
// 'strata run' draws the same tokens in one process and through three
// peers on loopback, for each sampling setting. The route asks the last
// peer for only the logits the sampler needs, so the two agree only if
// both choose the same tokens among tied ones.
func TestTiesLocalAndPeers(t *testing.T) {
	model, vocab := tieModel(t)

	// The model is what the test needs: every run of three logits ties
	// exactly, and the runs differ.
	rows := filepath.Join(t.TempDir(), "logits.f32")
	if _, errs, code := strata(t, "logits", model, "--tokens", "1,450,4996", "-o", rows, "--backend", "cpu"); code != 0 {
		t.Fatalf("logits: exit %d: %s", code, errs)
	}
	logits := readFloats(t, rows)
	if len(logits) != 3*vocab {
		t.Fatalf("%d logits, want 3 rows of %d", len(logits), vocab)
	}
	for row := range 3 {
		v := logits[row*vocab : (row+1)*vocab]
		distinct := map[float32]bool{}
		for i, x := range v {
			if first := i - i%tiedHeadRuns; math.Float32bits(x) != math.Float32bits(v[first]) {
				t.Fatalf("row %d: logits %d and %d differ: %v and %v", row, first, i, v[first], x)
			}
			distinct[x] = true
		}
		if len(distinct) < vocab/tiedHeadRuns/2 {
			t.Fatalf("row %d: only %d distinct logits", row, len(distinct))
		}
	}

	dir := t.TempDir()
	split := filepath.Join(dir, "split")
	if _, errs, code := strata(t, "split", model, "--layers", "0-0,1-1,2-2", "-o", split); code != 0 {
		t.Fatalf("split: %s", errs)
	}
	swarm := filepath.Join(dir, "swarm")
	if _, errs, code := strata(t, "swarm", "init", "-o", swarm); code != 0 {
		t.Fatalf("swarm init: %s", errs)
	}
	var addrs []string
	for i, name := range []string{"first", "middle", "last"} {
		addrs = append(addrs, startServe(t, dir, swarm, i, name).addr)
	}

	common := []string{"-p", "Once upon a time", "-n", "48", "--ignore-eos", "--temp", "0.8", "-s", "42", "--json"}
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"top-k", []string{"--top-k", "4", "--top-p", "1", "--min-p", "0"}},
		{"top-p", []string{"--top-k", "5", "--top-p", "0.9", "--min-p", "0"}},
		{"min-p", []string{"--top-k", "10", "--top-p", "1", "--min-p", "0.5"}},
		{"repeat penalty", []string{"--top-k", "7", "--top-p", "1", "--min-p", "0", "--repeat-penalty", "1.5", "--repeat-last-n", "16"}},
		{"repeat penalty, top-k 40", []string{"--top-k", "40", "--top-p", "1", "--min-p", "0", "--repeat-penalty", "1.5", "--repeat-last-n", "16"}},
		// The last peer is asked for every logit plus the recent tokens':
		// each must come once.
		{"repeat penalty, top-k the whole vocabulary", []string{"--top-k", strconv.Itoa(vocab), "--repeat-penalty", "1.5", "--repeat-last-n", "16"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append(slices.Clone(common), c.flags...)
			local := runTokens(t, append([]string{"run", model, "--backend", "cpu"}, args...))
			peers := runTokens(t, append([]string{"run", filepath.Join(split, "manifest.json"), "--swarm", swarm,
				"--peers", strings.Join(addrs, ",")}, args...))
			if len(local) != 48 || len(peers) != 48 {
				t.Fatalf("%d tokens locally, %d through peers; want 48", len(local), len(peers))
			}
			for i := range local {
				if local[i] != peers[i] {
					t.Fatalf("token %d: %d locally, %d through peers\nlocal %v\npeers %v", i, local[i], peers[i], local, peers)
				}
			}
		})
	}
}

// runTokens runs strata with --json and returns the tokens generated.
func runTokens(t *testing.T, args []string) []int32 {
	t.Helper()
	out, errs, code := strata(t, args...)
	var r struct{ Tokens []int32 }
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	return r.Tokens
}
