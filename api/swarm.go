package api

import (
	"fmt"
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

type swarmSlot struct {
	Slot    int      `json:"slot"`
	Busy    bool     `json:"busy"`
	Request string   `json:"request,omitempty"`
	Route   []string `json:"route"`
}

// swarm serves GET /api/swarm: the peers, the slots and the routes they
// take. The page polls it and computes rates from its counters.
func (s *Server) swarm(w http.ResponseWriter, r *http.Request) {
	m := s.o.Model
	peers := []swarmPeer{}
	seen := map[string]int{}
	for _, t := range s.book.totals() {
		seen[t.Addr] = len(peers)
		peers = append(peers, swarmPeer{Addr: t.Addr, ID: t.ID, Up: true, Layers: fmt.Sprintf("%d-%d", t.Start, t.End-1),
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
				p.Layers = fmt.Sprintf("%d-%d", st.Info.Start, st.Info.End-1)
				p.Sessions, p.MaxSessions, p.BusyMS = st.Info.Sessions, st.Info.MaxSessions, st.Info.BusyMS
			}
			p.PingMS = ms(st.RTT)
		}
	}
	slots := []swarmSlot{}
	s.sched.mu.Lock()
	for _, sl := range s.sched.slots {
		ss := swarmSlot{Slot: sl.id, Busy: sl.job != nil, Route: s.book.route(sl.id)}
		if sl.job != nil {
			ss.Request = sl.job.id
		}
		if ss.Route == nil {
			ss.Route = []string{}
		}
		slots = append(slots, ss)
	}
	queued := len(s.sched.queue)
	s.sched.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"model": m.ID, "backend": m.Backend, "device": m.Device, "context": m.Context(),
		"slots": slots, "queued": queued, "peers": peers, "time": time.Now().UnixMilli(),
	})
}
