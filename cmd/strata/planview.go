package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"strata/swarm"
)

// planView is the swarm's plan as 'strata peers --join' shows it: each
// stage's layers and peers (primary first) with what they measured.
type planView struct {
	Version                  uint64      `json:"version"`
	Coordinator              string      `json:"coordinator"`
	PredictedTokensPerSecond float64     `json:"predicted_tokens_per_second"`
	LatencyMS                float64     `json:"latency_ms"`
	Stages                   []stageView `json:"stages"`
}

type stageView struct {
	Start       int        `json:"start"`
	End         int        `json:"end"` // one past the last layer
	PredictedMS float64    `json:"predicted_ms"`
	Peers       []planPeer `json:"peers"`
}

type planPeer struct {
	ID      string  `json:"id"`
	Addr    string  `json:"addr"`
	Device  string  `json:"device"`
	LayerMS float64 `json:"layer_ms"` // measured decode time of a mean layer per token
}

func newPlanView(v swarmView) *planView {
	byID := map[string]swarm.Meta{}
	for _, m := range v.members {
		byID[m.ID] = m.Meta
	}
	p := &planView{Version: v.version, Coordinator: v.coordinator, PredictedTokensPerSecond: v.plan.PredictedTokensPerSecond,
		LatencyMS: v.plan.LatencySeconds * 1e3}
	for _, s := range v.plan.Stages {
		st := stageView{Start: s.Start, End: s.End, PredictedMS: s.Seconds * 1e3}
		for _, id := range s.Peers {
			m := byID[id]
			st.Peers = append(st.Peers, planPeer{ID: id, Addr: m.Data, Device: m.Backend + " " + m.Device, LayerMS: m.LayerSeconds * 1e3})
		}
		p.Stages = append(p.Stages, st)
	}
	return p
}

// print writes the plan as a table.
func (p *planView) print(out io.Writer) error {
	fmt.Fprintf(out, "plan %d by %.16s…: %.1f tokens/s predicted through the slowest stage, %.1f ms a token alone\n",
		p.Version, p.Coordinator, p.PredictedTokensPerSecond, p.LatencyMS)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "LAYERS\tPREDICTED\tROLE\tADDR\tID\tMEASURED\tDEVICE")
	for _, s := range p.Stages {
		for i, peer := range s.Peers {
			role := "primary"
			if i > 0 {
				role = "replica"
			}
			fmt.Fprintf(w, "%d-%d\t%.2f ms\t%s\t%s\t%.16s…\t%.3f ms/layer\t%s\n", s.Start, s.End-1, s.PredictedMS, role, peer.Addr, peer.ID, peer.LayerMS, peer.Device)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(out)
	return err
}
