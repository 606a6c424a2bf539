package api

import (
	"net/http"
	"time"
)

// swarmPeer is one peer on the swarm page: what the monitor saw of it
// and what this server's routes did through it.
type swarmPeer struct {
	Addr        string  `json:"addr"`
	ID          string  `json:"id"`
	Up          bool    `json:"up"`
	Error       string  `json:"error,omitempty"`
	Layers      string  `json:"layers"`
	Backend     string  `json:"backend"`
	Device      string  `json:"device"`
	Sessions    int     `json:"sessions"`
	MaxSessions int     `json:"max_sessions"`
	BusyMS      int64   `json:"busy_ms"`
	PingMS      float64 `json:"ping_ms"`
	Checked     string  `json:"checked,omitempty"`
	Routed      bool    `json:"routed"`  // a slot's route goes through it
	Slots       []int   `json:"slots"`   // which
	Batches     int     `json:"batches"` // sent by this server's routes
	ComputeMS   float64 `json:"compute_ms"`
	RoundTripMS float64 `json:"round_trip_ms"`
	Positions   int64   `json:"positions"` // token positions computed for this server
	Replaced    int     `json:"replaced"`
}

// swarmSlot is one slot of a loaded model: the request it runs, if any,
// and its route.
type swarmSlot struct {
	Model   string     `json:"model"`
	Slot    int        `json:"slot"`
	Busy    bool       `json:"busy"`
	Request string     `json:"request,omitempty"`
	Route   []routeHop `json:"route"` // empty: computed in this process
}

// swarmRequest is one request in a slot, by the id its response carries
// (chatcmpl-…, cmpl-…), with the route its tokens take.
type swarmRequest struct {
	ID           string     `json:"id"`
	Model        string     `json:"model"`
	Slot         int        `json:"slot"`
	PromptTokens int        `json:"prompt_tokens"`
	Generated    int        `json:"generated"`
	Route        []routeHop `json:"route"`
}

// swarm serves GET /api/swarm: the peers, the slots, the requests they
// run and the routes those take. The page polls it and computes rates
// from its counters.
func (s *Server) swarm(w http.ResponseWriter, r *http.Request) {
	instances := s.instances()
	peers := []swarmPeer{}
	seen := map[string]int{}
	for _, t := range s.peerTotals() {
		seen[t.Addr] = len(peers)
		peers = append(peers, swarmPeer{Addr: t.Addr, ID: t.ID, Up: true, Layers: layerRange(t.Start, t.End),
			Backend: t.Backend, Device: t.Device, Routed: true, Slots: t.Slots, Batches: t.Batches,
			ComputeMS: 1000 * t.Compute, RoundTripMS: 1000 * t.Wall, Positions: t.Positions, Replaced: t.Replaced})
	}
	if s.o.Monitor != nil {
		states := s.o.Monitor.Snapshot()
		for _, a := range s.o.Monitor.Addrs() {
			st, probed := states[a]
			i, ok := seen[a]
			if !ok {
				i = len(peers)
				peers = append(peers, swarmPeer{Addr: a, Slots: []int{}})
			}
			p := &peers[i]
			if !probed {
				p.Error = "not probed yet"
				continue
			}
			p.Up, p.Error, p.Checked = st.Up, st.Err, st.Checked.Format(time.RFC3339)
			if st.Info.ID != "" {
				p.ID, p.Backend, p.Device = st.Info.ID, st.Info.Backend, st.Info.Device
				p.Layers = layerRange(st.Info.Start, st.Info.End)
				p.Sessions, p.MaxSessions, p.BusyMS = st.Info.Sessions, st.Info.MaxSessions, st.Info.BusyMS
			}
			p.PingMS = ms(st.RTT)
		}
	}
	slots, requests, queued := []swarmSlot{}, []swarmRequest{}, 0
	models := []map[string]any{}
	for _, in := range instances {
		m := in.model
		models = append(models, map[string]any{"id": m.ID, "backend": m.Backend, "device": m.Device, "context": m.Context(), "slots": len(m.Stacks)})
		in.sched.mu.Lock()
		for _, sl := range in.sched.slots {
			ss := swarmSlot{Model: m.ID, Slot: sl.id, Busy: sl.job != nil, Route: in.book.route(sl.id)}
			if ss.Route == nil {
				ss.Route = []routeHop{}
			}
			if j := sl.job; j != nil {
				ss.Request = j.id
				// The scheduler writes fed and generated between steps;
				// a poll may see the count of the step before.
				requests = append(requests, swarmRequest{ID: j.id, Model: m.ID, Slot: sl.id, PromptTokens: len(j.prompt),
					Generated: j.progress(), Route: ss.Route})
			}
			slots = append(slots, ss)
		}
		queued += len(in.sched.queue)
		in.sched.mu.Unlock()
	}
	out := map[string]any{"models": models, "slots": slots, "requests": requests, "queued": queued, "peers": peers,
		"time": time.Now().UnixMilli(), "model": "", "backend": "", "device": "", "context": 0}
	if len(instances) > 0 {
		// The model served (or used last): what the page's heading shows.
		m := instances[0].model
		out["model"], out["backend"], out["device"], out["context"] = m.ID, m.Backend, m.Device, m.Context()
	}
	writeJSON(w, http.StatusOK, out)
}

// peerTotals is what the loaded models' routes did through each peer,
// summed by address in route order.
func (s *Server) peerTotals() []peerTotals {
	var out []peerTotals
	at := map[string]int{}
	for _, in := range s.instances() {
		for _, t := range in.book.totals() {
			i, ok := at[t.Addr]
			if !ok {
				at[t.Addr] = len(out)
				out = append(out, t)
				continue
			}
			o := &out[i]
			o.Batches += t.Batches
			o.Compute += t.Compute
			o.Wall += t.Wall
			o.Replaced += t.Replaced
			o.Positions += t.Positions
			o.Slots = append(o.Slots, t.Slots...)
		}
	}
	return out
}
