package swarm

import (
	"encoding/json"
	"fmt"
)

// PlanFor is the PlanFunc of a coordinator of model m, which members
// name by model (Meta.Model): it places, with Place and o, the members
// that hold that model and serve fragments (those with a data address),
// from their measurements, and encodes the plan in JSON. Members that
// hold another model, and clients, are left out. What a member serves
// now (Meta.Start, End, PlanVersion) does not enter, so the plan of a
// swarm whose members have not changed is the same plan.
func PlanFor(m Model, model string, o Options) PlanFunc {
	return func(members []Member) ([]byte, error) {
		var peers []Peer
		for _, mb := range members {
			if mb.Meta.Data == "" || mb.Meta.Model != model {
				continue
			}
			peers = append(peers, Peer{ID: mb.ID, MemoryBytes: mb.Meta.MemoryBytes, LayerSeconds: mb.Meta.LayerSeconds,
				HeadSeconds: mb.Meta.HeadSeconds, EmbedSeconds: mb.Meta.EmbedSeconds, HopSeconds: mb.Meta.HopSeconds})
		}
		p, err := Place(m, peers, o)
		if err != nil {
			return nil, err
		}
		return json.Marshal(p)
	}
}

// DecodePlan reads the plan a PlanFor coordinator distributed.
func DecodePlan(a Assignment) (Plan, error) {
	var p Plan
	if err := json.Unmarshal(a.Plan, &p); err != nil {
		return Plan{}, fmt.Errorf("swarm: plan version %d from %.12s: %w", a.Version, a.Coordinator, err)
	}
	for i, s := range p.Stages {
		if s.Start >= s.End || (i == 0 && s.Start != 0) || (i > 0 && s.Start != p.Stages[i-1].End) || len(s.Peers) == 0 {
			return Plan{}, fmt.Errorf("swarm: plan version %d from %.12s: stage %d (layers [%d, %d), %d peers) does not follow the one before",
				a.Version, a.Coordinator, i, s.Start, s.End, len(s.Peers))
		}
	}
	return p, nil
}

// StageOf returns the stage of the plan that peer id serves, as primary
// or replica.
func (p Plan) StageOf(id string) (Stage, bool) {
	for _, s := range p.Stages {
		for _, peer := range s.Peers {
			if peer == id {
				return s, true
			}
		}
	}
	return Stage{}, false
}

// Addresses lists the data addresses of the plan's peers, stage by stage,
// each stage's primary before its replicas: what a client's route takes
// (transport.NewRoute prefers peers in the order given). Peers missing
// from members, or without an address, are left out.
func (p Plan) Addresses(members []Member) []string {
	data := map[string]string{}
	for _, m := range members {
		data[m.ID] = m.Meta.Data
	}
	var out []string
	for _, s := range p.Stages {
		for _, id := range s.Peers {
			if a := data[id]; a != "" {
				out = append(out, a)
			}
		}
	}
	return out
}
