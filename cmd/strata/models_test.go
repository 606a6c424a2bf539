package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"strata/engine/testmodel"
	"strata/gguf"
)

// spmVocab is the metadata of a SentencePiece vocabulary of n tokens
// (n ≥ 259): <unk>, <s>, </s>, the 256 byte tokens, then "▁a", "▁b", ….
func spmVocab(n int) []gguf.KV {
	tokens := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3}
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
	}
	for i := 0; len(tokens) < n; i++ {
		tokens = append(tokens, "\u2581"+string(rune('a'+i%26))+strings.Repeat("z", i/26))
		types = append(types, 1)
	}
	scores := make([]float32, len(tokens))
	return []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Value: tokens},
		{Key: "tokenizer.ggml.scores", Value: scores},
		{Key: "tokenizer.ggml.token_type", Value: types},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
	}
}

// smallSpec is a 4-layer model of 300 tokens, with a vocabulary.
func smallSpec() testmodel.Spec {
	return testmodel.Spec{Layers: 4, Embedding: 256, FeedForward: 256, Heads: 2, KVHeads: 1, HeadDim: 128,
		Vocab: 300, Context: 256, RopeBase: 10000, NormEps: 1e-5, Metadata: spmVocab(300), Seed: 5}
}

// wideSpec has a wide KV cache: a session of the largest context -c takes
// (2^24 positions) needs 8 layers × 2^24 × 1024 values × 8 bytes = 1 TiB,
// more than any machine the tests run on.
func wideSpec() testmodel.Spec {
	s := smallSpec()
	s.Layers, s.Heads, s.KVHeads = 8, 8, 8
	return s
}

// buildModel writes the model of s to a temporary file.
func buildModel(t *testing.T, name string, s testmodel.Spec) string {
	t.Helper()
	b, err := testmodel.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, name, b)
}

// patchTensor returns a copy of the GGUF file data with b written at
// byte at of the named tensor's data.
func patchTensor(t *testing.T, data []byte, tensor string, at int, b []byte) []byte {
	t.Helper()
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	ti, ok := f.Tensor(tensor)
	if !ok {
		t.Fatalf("no tensor %q", tensor)
	}
	out := bytes.Clone(data)
	copy(out[f.DataStart+int64(ti.Offset)+int64(at):], b)
	return out
}

// withMetadata returns the GGUF file data with keys set (replaced or
// added), tensors unchanged.
func withMetadata(t *testing.T, data []byte, kv ...gguf.KV) []byte {
	t.Helper()
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	w := &gguf.Writer{}
	for _, e := range append(append([]gguf.KV{}, f.KV...), kv...) {
		if err := w.Set(e.Key, e.Value); err != nil {
			t.Fatal(err)
		}
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, f.TensorData(ti)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// strataLimit runs the binary as strata does, killing it after limit:
// a command that should refuse its input at once must not run on.
func strataLimit(t *testing.T, limit time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after %v; stderr %q", args, limit, errb.String())
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// errorLine checks that a command failed with one error line (log lines
// aside) that starts "strata: " and contains want.
func errorLine(t *testing.T, stdout, stderr string, code int, want string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit 0; stdout %.200q", stdout)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "level=") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "strata: ") || !strings.Contains(lines[0], want) {
		t.Fatalf("stderr %.2000q, want one line with %q", stderr, want)
	}
}
