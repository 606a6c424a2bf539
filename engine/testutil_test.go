package engine_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
)

var tinyDir = filepath.Join("..", "testdata", "tiny-mistral")

// reference is testdata/tiny-mistral/reference.json.
type reference struct {
	Model  string `json:"model"`
	NVocab int    `json:"n_vocab"`
	Cases  []struct {
		Prompt       string         `json:"prompt"`
		PromptTokens []int32        `json:"prompt_tokens"`
		GreedyTokens []int32        `json:"greedy_tokens"`
		Top2Gap      []float64      `json:"top2_gap"`
		Top10        [][][2]float64 `json:"top10"`
		FullRows     []int          `json:"full_rows"`
		LlamaCpp     struct {
			MeanRowNMSE  float64 `json:"mean_row_nmse"`
			WorstRowNMSE float64 `json:"worst_row_nmse"`
		} `json:"llama_cpp"`
	} `json:"cases"`
}

func loadReference(t testing.TB) *reference {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tinyDir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// loadRows reads the float32 rows of a .f32 file.
func loadRows(t testing.TB, name string, vocab int) [][]float32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tinyDir, name))
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][]float32, len(b)/(4*vocab))
	for r := range rows {
		rows[r] = make([]float32, vocab)
		for i := range rows[r] {
			rows[r][i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(r*vocab+i):]))
		}
	}
	return rows
}

// nmse is Σ(got − want)² / Σ want².
func nmse(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return num / den
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func openTiny(t testing.TB) *gguf.File {
	t.Helper()
	f, err := gguf.Open(filepath.Join(tinyDir, "tiny-mistral-q4km.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func cpuBackend(t testing.TB) engine.Backend {
	b := cpu.New(cpu.Options{})
	t.Cleanup(func() { b.Close() })
	return b
}
