package testmodel

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"strata/engine"
	"strata/gguf"
)

// Reference is the ground truth of the tiny model, reference.json in
// testdata/tiny-mistral (see testdata/README.md).
type Reference struct {
	Model  string          `json:"model"`
	NVocab int             `json:"n_vocab"`
	Cases  []ReferenceCase `json:"cases"`
}

// A ReferenceCase is a prompt with the exact pass's continuation. Row i
// of a case predicts token i+1 of PromptTokens + GreedyTokens.
type ReferenceCase struct {
	Prompt       string         `json:"prompt"`
	PromptTokens []int32        `json:"prompt_tokens"`
	GreedyTokens []int32        `json:"greedy_tokens"`
	Top2Gap      []float64      `json:"top2_gap"`
	Top10        [][][2]float64 `json:"top10"`
	FullRows     []int          `json:"full_rows"` // rows stored in full in the .f32 files
	LlamaCpp     struct {
		MeanRowNMSE  float64 `json:"mean_row_nmse"`
		WorstRowNMSE float64 `json:"worst_row_nmse"`
	} `json:"llama_cpp"`
}

// LoadReference reads dir/reference.json.
func LoadReference(dir string) (*Reference, error) {
	b, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		return nil, err
	}
	var r Reference
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("testmodel: %s: %w", dir, err)
	}
	return &r, nil
}

// ReadRows reads a file of little-endian float32 rows of n values.
func ReadRows(path string, n int) ([][]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b)%(4*n) != 0 {
		return nil, fmt.Errorf("testmodel: %s is not rows of %d float32", path, n)
	}
	rows := make([][]float32, len(b)/(4*n))
	for r := range rows {
		rows[r] = make([]float32, n)
		for i := range rows[r] {
			rows[r][i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(r*n+i):]))
		}
	}
	return rows, nil
}

// NMSE is Σ(got − want)² / Σ want².
func NMSE(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return num / den
}

// Argmax is the index of the largest value, the first among equals.
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// WorstAgainstExact builds the model of spec, runs tokens through it on b
// in batches of batch positions, and returns the worst row NMSE of its
// logits against the float64 reference. It fails on logits too flat to
// test anything.
func WorstAgainstExact(b engine.Backend, spec Spec, tokens []int32, batch int) (float64, error) {
	data, err := Build(spec)
	if err != nil {
		return 0, err
	}
	f, err := gguf.Parse(data)
	if err != nil {
		return 0, err
	}
	frag, err := engine.NewFragment(f, b, engine.FragmentOptions{Batch: batch})
	if err != nil {
		return 0, err
	}
	exact, err := engine.NewExact(f)
	if err != nil {
		return 0, err
	}
	vocab := frag.Config.Vocab
	s, err := frag.NewSession(len(tokens))
	if err != nil {
		return 0, err
	}
	defer s.Close()
	got := make([]float32, len(tokens)*vocab)
	if err := frag.Forward(got, s, engine.Batch{Tokens: tokens, AllLogits: true}); err != nil {
		return 0, err
	}
	worst := 0.0
	for i, tok := range tokens {
		want, err := exact.Step(tok)
		if err != nil {
			return 0, err
		}
		var num, den float64
		for j, w := range want {
			d := float64(got[i*vocab+j]) - w
			num += d * d
			den += w * w
		}
		if den/float64(vocab) < 1e-2 {
			return 0, fmt.Errorf("testmodel: row %d: logits of mean square %.3g are too flat to test anything", i, den/float64(vocab))
		}
		if e := num / den; math.IsNaN(e) {
			return e, nil
		} else {
			worst = max(worst, e)
		}
	}
	return worst, nil
}
