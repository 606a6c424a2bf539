package engine_test

import (
	"testing"

	"strata/engine"
)

// TestExactIsGroundTruth checks the shipped float64 pass against the
// shared ground truth (exact_rows.f32, computed by another program): its
// logits must agree to float32's own rounding of them, and its greedy
// token must be the reference's on every row.
func TestExactIsGroundTruth(t *testing.T) {
	ref := loadReference(t)
	exactRows := loadRows(t, "exact_rows.f32", ref.NVocab)
	full := 0
	for ci, c := range ref.Cases[:2] {
		m, err := engine.NewExact(openTiny(t))
		if err != nil {
			t.Fatal(err)
		}
		tokens := append(append([]int32{}, c.PromptTokens...), c.GreedyTokens[:len(c.GreedyTokens)-1]...)
		var stages int
		logits, err := m.Forward(tokens, func(layer int, stage engine.Stage, hidden [][]float64) {
			if len(hidden) != len(tokens) || len(hidden[0]) != m.Config().Embedding {
				t.Fatalf("layer %d %v: hidden of %d × %d", layer, stage, len(hidden), len(hidden[0]))
			}
			stages++
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * m.Config().Layers; stages != want {
			t.Errorf("observed %d stages, want %d", stages, want)
		}
		for r, gap := range c.Top2Gap {
			if want := int(c.Top10[r][0][0]); gap > 1e-6 && argmax64(logits[r]) != want {
				t.Errorf("case %d row %d: argmax %d, reference %d", ci, r, argmax64(logits[r]), want)
			}
		}
		for _, r := range c.FullRows {
			var num, den float64
			for i, w := range exactRows[full] {
				d := logits[r][i] - float64(w)
				num, den = num+d*d, den+float64(w)*float64(w)
			}
			t.Logf("case %d row %2d: NMSE %.3g", ci, r, num/den)
			if num/den > 1e-14 {
				t.Errorf("case %d row %d: NMSE %.3g against the ground truth", ci, r, num/den)
			}
			full++
		}
	}
}

func argmax64(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
