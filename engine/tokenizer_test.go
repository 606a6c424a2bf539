package engine_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"strata/engine"
	"strata/gguf"
)

func TestTinyPromptTokens(t *testing.T) {
	v, err := engine.VocabFrom(openTiny(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range loadReference(t).Cases {
		if got := v.Encode(c.Prompt, true, false); !slices.Equal(got, c.PromptTokens) {
			t.Errorf("%q: got %v want %v", c.Prompt, got, c.PromptTokens)
		}
	}
}

// vocabVectors reads testdata/vocab/NAME.gguf.inp and .out.
func vocabVectors(t testing.TB, name string) (texts []string, ids [][]int32) {
	t.Helper()
	inp, err := os.ReadFile(filepath.Join("..", "testdata", "vocab", name+".inp"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join("..", "testdata", "vocab", name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	texts = strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	texts = texts[:len(texts)-1] // the file ends with a separator
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d texts, %d token lines", name, len(texts), len(lines))
	}
	for _, l := range lines {
		var row []int32
		for _, f := range strings.Fields(l) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			row = append(row, int32(n))
		}
		ids = append(ids, row)
	}
	return texts, ids
}

func openVocab(t testing.TB, name string) *engine.Vocab {
	t.Helper()
	f, err := gguf.Open(filepath.Join("..", "testdata", "vocab", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	v, err := engine.VocabFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var vocabFiles = []string{"ggml-vocab-llama-spm.gguf", "ggml-vocab-llama-bpe.gguf"}

func TestVocabVectors(t *testing.T) {
	for _, name := range vocabFiles {
		t.Run(name, func(t *testing.T) {
			v := openVocab(t, name)
			texts, want := vocabVectors(t, name)
			for i, text := range texts {
				got := v.Encode(text, false, false)
				if len(got) == 0 && len(want[i]) == 0 {
					continue
				}
				if !slices.Equal(got, want[i]) {
					t.Errorf("%q:\n got %v\nwant %v", text, got, want[i])
				}
			}
		})
	}
}
