package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"strata/engine"
)

// verifyBar is the NMSE within which a computed hidden state or logit
// row counts as exact: what the engine achieves on the tiny model is
// about 1e-13.
const verifyBar = 1e-9

// A verifyReport is what strata verify found.
type verifyReport struct {
	Model    string        `json:"model"`
	Path     string        `json:"path"` // cpu, vulkan or peers
	Device   string        `json:"device"`
	Tokens   int           `json:"tokens"`
	Bar      float64       `json:"bar"`
	Checks   []verifyCheck `json:"checks"`
	Logits   verifyLogits  `json:"logits"`
	Verdict  string        `json:"verdict"` // pass or fail
	Failure  *verifyCheck  `json:"failure,omitempty"`
	ExactMS  float64       `json:"exact_ms"`  // the float64 pass
	EngineMS float64       `json:"engine_ms"` // the path checked
}

// A verifyCheck compares one layer's hidden state after one stage, for
// every position, with the exact pass.
type verifyCheck struct {
	Layer int     `json:"layer"`
	Stage string  `json:"stage"`
	NMSE  float64 `json:"nmse"`
	// Worst is the position whose own NMSE is the largest, and WorstNMSE
	// that NMSE: where the error comes from.
	Worst     int     `json:"worst_position"`
	WorstNMSE float64 `json:"worst_position_nmse"`
	Peer      string  `json:"peer,omitempty"` // through peers: the hop that computed it
	ID        string  `json:"peer_id,omitempty"`
}

// verifyLogits compares the logits of the positions computed.
type verifyLogits struct {
	Positions int     `json:"positions"`
	NMSE      float64 `json:"nmse"` // the worst position's
	TopK      int     `json:"top_k"`
	Agreement float64 `json:"top_k_agreement"` // the worst position's share of the exact top-k found in order
	Peer      string  `json:"peer,omitempty"`
	ID        string  `json:"peer_id,omitempty"`
}

func (c *verifyCheck) ok() bool { return c.NMSE <= verifyBar } // false for NaN

// finish sorts the checks and gives the verdict: the first layer and
// stage past the bar, else the logits, else a pass.
func (r *verifyReport) finish() {
	r.Bar = verifyBar
	slices.SortFunc(r.Checks, func(a, b verifyCheck) int {
		if a.Layer != b.Layer {
			return a.Layer - b.Layer
		}
		return stageOrder(a.Stage) - stageOrder(b.Stage)
	})
	r.Verdict = "pass"
	for i := range r.Checks {
		if !r.Checks[i].ok() {
			r.Verdict, r.Failure = "fail", &r.Checks[i]
			return
		}
	}
	if !(r.Logits.NMSE <= verifyBar) {
		r.Verdict = "fail"
		r.Failure = &verifyCheck{Layer: -1, Stage: "logits", NMSE: r.Logits.NMSE, Peer: r.Logits.Peer, ID: r.Logits.ID}
	}
}

func stageOrder(s string) int {
	if s == engine.AfterAttention.String() {
		return 0
	}
	return 1
}

// print writes the report as a table and a verdict line.
func (r *verifyReport) print(w io.Writer) {
	fmt.Fprintf(w, "%s through %s (%s), %d tokens, against the float64 pass\n", r.Model, r.Path, r.Device, r.Tokens)
	t := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(t, "LAYER\tSTAGE\tNMSE\tWORST POSITION\tPEER\t")
	for _, c := range r.Checks {
		mark := ""
		if !c.ok() {
			mark = "past the bar"
		}
		fmt.Fprintf(t, "%d\t%s\t%.3g\t%d (%.3g)\t%s\t%s\n", c.Layer, c.Stage, c.NMSE, c.Worst, c.WorstNMSE, peerName(c.Peer, c.ID), mark)
	}
	t.Flush()
	fmt.Fprintf(w, "logits: NMSE %.3g (worst of %d positions); top-%d agreement %.0f%% (worst position)\n",
		r.Logits.NMSE, r.Logits.Positions, r.Logits.TopK, 100*r.Logits.Agreement)
	fmt.Fprintf(w, "exact pass %.0f ms, %s %.0f ms\n", r.ExactMS, r.Path, r.EngineMS)
	if r.Failure == nil {
		fmt.Fprintf(w, "verdict: pass: every layer and the logits within NMSE %.0e of exact arithmetic\n", r.Bar)
		return
	}
	f := r.Failure
	where := fmt.Sprintf("layer %d, after %s", f.Layer, f.Stage)
	if f.Layer < 0 {
		where = "the logits"
	}
	if f.Peer != "" {
		where += ", computed by peer " + peerName(f.Peer, f.ID)
	}
	if f.Layer >= 0 {
		where += fmt.Sprintf(", worst at position %d (NMSE %.3g)", f.Worst, f.WorstNMSE)
	}
	fmt.Fprintf(w, "verdict: fail: %s leaves the bar first (NMSE %.3g > %.0e)\n", where, f.NMSE, r.Bar)
}

func peerName(addr, id string) string {
	if addr == "" {
		return ""
	}
	return fmt.Sprintf("%s (%.16s…)", addr, id)
}

func (r *verifyReport) writeJSON(w io.Writer) error {
	clean := *r // JSON has no NaN: a NaN NMSE is reported as +Inf's stand-in, the largest float
	clean.Checks = slices.Clone(r.Checks)
	for i := range clean.Checks {
		clean.Checks[i].NMSE = finite(clean.Checks[i].NMSE)
		clean.Checks[i].WorstNMSE = finite(clean.Checks[i].WorstNMSE)
	}
	clean.Logits.NMSE = finite(r.Logits.NMSE)
	if r.Failure != nil {
		f := *r.Failure
		f.NMSE, f.WorstNMSE = finite(f.NMSE), finite(f.WorstNMSE)
		clean.Failure = &f
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(clean)
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return math.MaxFloat64
	}
	return x
}

// nmse is Σ(got − want)² / Σ want² over rows of got (float32, flattened)
// against the exact rows.
func nmse(got []float32, want [][]float64) float64 {
	var num, den float64
	for r, row := range want {
		n, d := rowErrors(got[r*len(row):], row)
		num, den = num+n, den+d
	}
	return num / den
}

// compare fills a check's NMSE and its worst position.
func (c *verifyCheck) compare(got []float32, want [][]float64) {
	var num, den float64
	c.WorstNMSE = -1
	for r, row := range want {
		n, d := rowErrors(got[r*len(row):], row)
		num, den = num+n, den+d
		if e := n / d; !(e <= c.WorstNMSE) {
			c.Worst, c.WorstNMSE = r, e
		}
	}
	c.NMSE = num / den
}

// rowErrors is Σ(got − want)² and Σ want² over one row.
func rowErrors(got []float32, want []float64) (num, den float64) {
	for i, w := range want {
		d := float64(got[i]) - w
		num += d * d
		den += w * w
	}
	return num, den
}

// topAgreement is the share of the exact top-k of want that got ranks in
// the same places (both ranked by engine.TopK, want rounded to float32).
func topAgreement(got []float32, want []float64, k int) float64 {
	k = min(k, len(want))
	w32 := make([]float32, len(want))
	for i, x := range want {
		w32[i] = float32(x)
	}
	a, b := engine.TopK(nil, got, k), engine.TopK(nil, w32, k)
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / float64(k)
}
