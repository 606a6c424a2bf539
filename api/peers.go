package api

import (
	"fmt"
	"sort"
	"sync"

	"strata/transport"
)

// routeStats is what a stack through peers reports: a transport.Route.
type routeStats interface {
	Stats() []transport.HopStats
}

// A peerBook keeps, for the swarm page and /metrics, what each slot's
// route did, as of its latest step. The scheduler writes it after each
// step (a Route is not safe to read while it computes); readers get
// copies.
type peerBook struct {
	mu        sync.Mutex
	hops      map[int][]transport.HopStats // by slot
	positions map[string]int64             // positions computed, by peer address
}

func newPeerBook() *peerBook {
	return &peerBook{hops: map[int][]transport.HopStats{}, positions: map[string]int64{}}
}

// stepped records that slot's stack computed n positions.
func (b *peerBook) stepped(slot int, st Stack, n int) {
	rs, ok := st.(routeStats)
	if !ok {
		return
	}
	hops := rs.Stats()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hops[slot] = hops
	for _, h := range hops {
		b.positions[h.Addr] += int64(n)
	}
}

// peerTotals is what the slots' routes did through one peer, summed.
type peerTotals struct {
	Addr      string
	ID        string
	Start     int
	End       int
	Backend   string
	Device    string
	Batches   int
	Compute   float64 // seconds
	Wall      float64 // seconds, round trips included
	Replaced  int
	Positions int64
	Slots     []int // the slots whose routes go through it now
}

// totals sums the hops of every slot's route by peer address, in route
// order.
func (b *peerBook) totals() []peerTotals {
	b.mu.Lock()
	defer b.mu.Unlock()
	by := map[string]*peerTotals{}
	slots := make([]int, 0, len(b.hops))
	for s := range b.hops {
		slots = append(slots, s)
	}
	sort.Ints(slots)
	var order []string
	for _, s := range slots {
		for _, h := range b.hops[s] {
			t := by[h.Addr]
			if t == nil {
				t = &peerTotals{Addr: h.Addr, ID: h.ID, Start: h.Start, End: h.End, Backend: h.Backend, Device: h.Device}
				by[h.Addr] = t
				order = append(order, h.Addr)
			}
			t.Batches += h.Forwards
			t.Compute += h.Compute.Seconds()
			t.Wall += h.Wall.Seconds()
			t.Replaced += h.Replaced
			t.Slots = append(t.Slots, s)
		}
	}
	out := make([]peerTotals, 0, len(order))
	for _, a := range order {
		t := by[a]
		t.Positions = b.positions[a]
		out = append(out, *t)
	}
	return out
}

// route is the hops of slot's route, as of its last step: each peer's
// address, identity and layers (nil for a local model).
func (b *peerBook) route(slot int) []routeHop {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []routeHop
	for _, h := range b.hops[slot] {
		out = append(out, routeHop{Addr: h.Addr, ID: h.ID, Layers: layerRange(h.Start, h.End)})
	}
	return out
}

// A routeHop is one peer of a route, for the swarm page.
type routeHop struct {
	Addr   string `json:"addr"`
	ID     string `json:"id"`
	Layers string `json:"layers"`
}

// layerRange is layers [start, end) as split --layers writes them: first
// and last inclusive.
func layerRange(start, end int) string { return fmt.Sprintf("%d-%d", start, end-1) }
