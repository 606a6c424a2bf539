package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"strata/gguf"
)

// hostileVocab writes a vocabulary-only GGUF file with n control tokens
// "<", "<a", "<aa", … sharing their first bytes: the matcher that tried
// every length at every '<' hashed n²/2 bytes a position.
func hostileVocab(t *testing.T, n int) string {
	tokens := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3}
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
	}
	for k := range n {
		tokens = append(tokens, "<"+strings.Repeat("a", k))
		types = append(types, 3)
	}
	w := &gguf.Writer{}
	w.Set("tokenizer.ggml.model", "llama")
	w.Set("tokenizer.ggml.tokens", tokens)
	w.Set("tokenizer.ggml.token_type", types)
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "hostile.gguf", buf.Bytes())
}

// TestHostileVocabulary tokenizes a 20 KB prompt of '<' with 8000 control
// tokens "<", "<a", … of every length up to 8000. The matcher is linear in
// the text (engine's TestSpecialTokensLinear counts its steps); here the
// whole command must take under 5 s, where the matcher that tried every
// length at every position took 11 to 22 s (0.5 s now, mostly reading the
// 32 MB vocabulary), and the tokens must be right: "<" at each '<'.
func TestHostileVocabulary(t *testing.T) {
	vocab := hostileVocab(t, 8000)
	text := strings.Repeat("<", 20000)
	start := time.Now()
	out, errs, code := strataLimit(t, time.Minute, "tokenize", vocab, "--special", "--no-bos", "--json", text)
	elapsed := time.Since(start)
	var ids []int32
	if code != 0 || json.Unmarshal([]byte(out), &ids) != nil {
		t.Fatalf("exit %d: %.200q %s", code, out, errs)
	}
	want := int32(3 + 256) // "<"
	if len(ids) != 20000 || ids[0] != want || ids[19999] != want {
		t.Errorf("%d tokens, first %v, want 20000 of %d", len(ids), ids[:min(len(ids), 4)], want)
	}
	t.Logf("20 KB prompt, 8000 hostile special tokens: %v", elapsed)
	if elapsed > 5*time.Second {
		t.Errorf("took %v, want under 5 s", elapsed)
	}
}
