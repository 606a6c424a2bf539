package swarm

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// exactPeers is the most peers Place searches exactly (over subsets);
// above it, orderGreedy.
const exactPeers = 10

// shuffles is how many shuffled orders orderGreedy tries after its sorted
// ones.
const shuffles = 32

// planner holds a model and peers (sorted by ID, so that the plan does
// not depend on their order) with the sums every check needs.
type planner struct {
	m      Model
	o      Options
	exact  int // the most peers searched over subsets (exactPeers)
	peers  []Peer
	index  map[string]int // peers' positions by ID
	head   []float64      // each peer's head seconds, derived where not measured
	prefix []int64        // prefix[i]: bytes of layers [0, i)
	mean   float64        // mean layer bytes
}

func newPlanner(m Model, peers []Peer, o Options) (*planner, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	pl := &planner{m: m, o: o, exact: exactPeers, peers: slices.Clone(peers), index: map[string]int{}, prefix: make([]int64, m.Layers+1)}
	slices.SortFunc(pl.peers, func(a, b Peer) int { return cmp.Compare(a.ID, b.ID) })
	for i, l := range m.LayerBytes {
		pl.prefix[i+1] = pl.prefix[i] + l
	}
	pl.mean = float64(pl.prefix[m.Layers]) / float64(m.Layers)
	for i, p := range pl.peers {
		if err := p.validate(); err != nil {
			return nil, err
		}
		if _, dup := pl.index[p.ID]; dup {
			return nil, fmt.Errorf("swarm: two peers are named %q", p.ID)
		}
		pl.index[p.ID] = i
		h := p.HeadSeconds
		if h == 0 {
			h = p.LayerSeconds * float64(m.HeadBytes) / pl.mean
		}
		pl.head = append(pl.head, h)
	}
	return pl, nil
}

// bytes is the memory a stage of layers [i, j) takes.
func (pl *planner) bytes(i, j int) int64 {
	m := &pl.m
	n := pl.prefix[j] - pl.prefix[i] + int64(j-i)*m.KVBytesPerLayer + m.ActivationBytes
	if i == 0 {
		n += m.EmbedBytes
	}
	if j == m.Layers {
		n += m.HeadBytes
	}
	return n
}

// seconds is peer p's decode time per token of layers [i, j).
func (pl *planner) seconds(p, i, j int) float64 {
	peer := &pl.peers[p]
	t := peer.LayerSeconds*float64(pl.prefix[j]-pl.prefix[i])/pl.mean + peer.HopSeconds
	if i == 0 {
		t += peer.EmbedSeconds
	}
	if j == pl.m.Layers {
		t += pl.head[p]
	}
	return t
}

func (pl *planner) fits(p, i, j int) bool { return pl.bytes(i, j) <= pl.peers[p].MemoryBytes }

// serves reports whether peer p can serve layers [i, j) within t seconds.
func (pl *planner) serves(p, i, j int, t float64) bool {
	return pl.fits(p, i, j) && pl.seconds(p, i, j) <= t
}

// extend is the furthest end j < Layers of a stage from i that peer p
// serves within t, or i when it serves not even layer i. (A stage's
// memory and time grow with j, so the ends it serves are a prefix.)
func (pl *planner) extend(p, i int, t float64) int {
	lo, hi := i, pl.m.Layers-1 // serves [i, lo); find the largest
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if pl.serves(p, i, mid, t) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func (pl *planner) finishes(p, i int, t float64) bool { return pl.serves(p, i, pl.m.Layers, t) }

// bottleneck finds the smallest slowest-stage time t it can and an
// order of primaries reaching it; nil when no order fits in memory.
func (pl *planner) bottleneck() ([]int, float64) {
	order := pl.order(math.Inf(1))
	if order == nil {
		return nil, 0
	}
	stages := pl.cut(order, math.Inf(1))
	hi := 0.0
	for _, s := range stages {
		hi = max(hi, s.Seconds)
	}
	lo := math.Inf(1) // no stage is faster than one layer on the fastest peer
	for p := range pl.peers {
		for l := range pl.m.Layers {
			lo = min(lo, pl.seconds(p, l, l+1))
		}
	}
	if o := pl.order(lo); o != nil {
		return o, lo
	}
	tolerance := 1e-9
	if len(pl.peers) > pl.exact {
		tolerance = 1e-5 // the greedy check is an estimate anyway
	}
	for hi > lo*(1+tolerance) {
		mid := math.Sqrt(lo * hi)
		if o := pl.order(mid); o != nil {
			order, hi = o, mid
		} else {
			lo = mid
		}
	}
	return order, hi
}

// order returns primaries, in pipeline order, that serve the model with
// no stage slower than t, or nil if it finds none.
func (pl *planner) order(t float64) []int {
	if len(pl.peers) <= pl.exact {
		return pl.orderExact(t)
	}
	return pl.orderGreedy(t)
}

// orderExact searches subsets of peers: reach[s] is the furthest layer
// the peers of s, each serving one stage in the best order, cover (−1:
// they cannot all serve). Reaching further never hurts the peers after,
// so the best reach of each subset decides. It returns the smallest
// subset that a last peer completes, the first in subset order.
func (pl *planner) orderExact(t float64) []int {
	n := len(pl.peers)
	reach := make([]int, 1<<n)
	last := make([]int8, 1<<n) // the peer added last to reach reach[s]
	for s := range reach {
		reach[s] = -1
	}
	reach[0] = 0
	for s := range reach {
		if reach[s] < 0 {
			continue
		}
		for p := range n {
			if s&(1<<p) != 0 {
				continue
			}
			if j := pl.extend(p, reach[s], t); j > reach[s] && j > reach[s|1<<p] {
				reach[s|1<<p], last[s|1<<p] = j, int8(p)
			}
		}
	}
	bestSet, bestLast := -1, -1
	for s := range reach {
		if reach[s] < 0 || bestSet >= 0 && popcount(s) >= popcount(bestSet) {
			continue
		}
		for p := range n {
			if s&(1<<p) == 0 && pl.finishes(p, reach[s], t) {
				bestSet, bestLast = s, p
				break
			}
		}
	}
	if bestSet < 0 {
		return nil
	}
	order := []int{bestLast}
	for s := bestSet; s != 0; s &^= 1 << last[s] {
		order = append(order, int(last[s]))
	}
	slices.Reverse(order)
	return order
}

func popcount(s int) int {
	n := 0
	for ; s != 0; s &= s - 1 {
		n++
	}
	return n
}

// orderGreedy searches a few orders of the peers with orderList: the
// most layers served within t first, the fewest first, the fastest
// first, then shuffles (of a fixed seed). A peer's reach depends little
// on where it starts (through the sizes of the layers and the ends'
// embedding and head), so the order in which the peers are offered
// matters little; trying a few covers most of the cases where it does.
// Peers that serve no layer within t are left out.
func (pl *planner) orderGreedy(t float64) []int {
	layers := pl.m.Layers
	capacity := map[int]int{} // the layers each useful peer serves within t from layer 1
	var list []int
	for p := range pl.peers {
		for l := range layers {
			if pl.serves(p, l, l+1, t) {
				from := min(1, layers-1)
				capacity[p] = pl.extend(p, from, t) - from
				list = append(list, p)
				break
			}
		}
	}
	for _, key := range []func(a, b int) int{
		func(a, b int) int { return cmp.Compare(capacity[b], capacity[a]) },
		func(a, b int) int { return cmp.Compare(capacity[a], capacity[b]) },
		func(a, b int) int { return cmp.Compare(pl.peers[a].LayerSeconds, pl.peers[b].LayerSeconds) },
	} {
		slices.SortStableFunc(list, key)
		if order := pl.orderList(t, list); order != nil {
			return order
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range shuffles {
		rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
		if order := pl.orderList(t, list); order != nil {
			return order
		}
	}
	if len(list) <= reachPeers {
		return pl.orderReach(t, list)
	}
	return nil
}

// reachPeers is the most peers orderGreedy searches by reach
// (orderReach), which takes time quadratic in them.
const reachPeers = 32

// beamWidth is how many partial pipelines orderReach keeps at each step.
const beamWidth = 64

// orderReach builds pipelines stage by stage from layer 0, keeping at
// each step the beamWidth furthest-reaching ones of distinct peers, each
// extended by every unused peer, until one is finished by a last stage.
// Where layers differ in size and memory is tight, what a peer serves
// depends on where its stage starts, which offering the peers in a fixed
// order (orderList) misses.
func (pl *planner) orderReach(t float64, list []int) []int {
	type partial struct {
		used  uint64 // bit k: list[k] serves a stage
		reach int
		order []int
	}
	beam := []partial{{}}
	for range list {
		for _, b := range beam {
			for k, p := range list {
				if b.used&(1<<k) == 0 && pl.finishes(p, b.reach, t) {
					return append(slices.Clone(b.order), p)
				}
			}
		}
		seen := map[uint64]int{} // used → index in next
		var next []partial
		for _, b := range beam {
			for k, p := range list {
				if b.used&(1<<k) != 0 {
					continue
				}
				j := pl.extend(p, b.reach, t)
				if j <= b.reach {
					continue
				}
				u := b.used | 1<<k
				if i, ok := seen[u]; ok {
					if j > next[i].reach {
						next[i] = partial{u, j, append(slices.Clone(b.order), p)}
					}
					continue
				}
				seen[u] = len(next)
				next = append(next, partial{u, j, append(slices.Clone(b.order), p)})
			}
		}
		if len(next) == 0 {
			return nil
		}
		slices.SortStableFunc(next, func(a, b partial) int { return cmp.Compare(b.reach, a.reach) })
		beam = next[:min(len(next), beamWidth)]
	}
	return nil
}

// A move is what a peer of orderList's list did to one state.
type move struct {
	kind int8  // skip, prefix, finish or suffix
	from int32 // the state's suffix start before
}

const (
	skip   = iota // the peer serves nothing
	prefix        // it serves a stage after the prefix
	finish        // it serves the last stage, the suffix's first
	suffix        // it serves a stage before the suffix
)

// orderList offers the peers in the order of list, each once, to a
// pipeline built from both ends: a prefix of stages from layer 0 and a
// suffix of stages ending with the last. best[b] is the furthest the
// prefix reaches while the suffix starts at layer b (b = Layers: no
// suffix yet); a further prefix and an earlier suffix never hurt (a
// stage that starts later, or ends earlier, is easier), so these are the
// only states that count. Each peer extends the prefix as far as it can,
// starts the suffix as the last stage, or extends the suffix as far back
// as it can. The pipeline is complete when the prefix meets the suffix.
func (pl *planner) orderList(t float64, list []int) []int {
	layers := pl.m.Layers
	best, next := make([]int, layers+1), make([]int, layers+1)
	for b := range best {
		best[b] = -1
	}
	best[layers] = 0
	moves := make([][]move, len(list))
	all := make([]move, len(list)*(layers+1))
	for k, p := range list {
		copy(next, best)
		mv := all[k*(layers+1) : (k+1)*(layers+1)]
		for b, a := range best {
			if a < 0 {
				continue
			}
			if j := pl.extend(p, a, t); j > a && j > next[b] {
				next[b], mv[b] = j, move{prefix, int32(b)}
			}
			var c int
			if b == layers {
				c = pl.earliest(p, layers, t)
			} else {
				c = pl.earliest(p, b, t)
			}
			if c < b && a > next[c] {
				kind := int8(suffix)
				if b == layers {
					kind = finish
				}
				next[c], mv[c] = a, move{kind, int32(b)}
			}
		}
		best, next = next, best
		moves[k] = mv
		for b, a := range best {
			if a >= b && b < layers {
				return pl.assemble(list, moves[:k+1], b, a)
			}
		}
	}
	return nil
}

// earliest is the first layer c from which peer p serves [c, end)
// within t (with the head when end is Layers), or end when none.
func (pl *planner) earliest(p, end int, t float64) int {
	lo, hi := 0, end // serves [hi, end) vacuously; find the least
	for lo < hi {
		mid := (lo + hi) / 2
		if pl.serves(p, mid, end, t) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// assemble walks orderList's moves back from the complete state whose
// suffix starts at b and prefix reaches a, and returns the pipeline
// order, without the suffix stages the prefix covers.
func (pl *planner) assemble(list []int, moves [][]move, b, a int) []int {
	var head, tail []int // the prefix's peers last first; the suffix's first first
	for k := len(moves) - 1; k >= 0; k-- {
		m := moves[k][b]
		switch m.kind {
		case prefix:
			head = append(head, list[k])
		case finish, suffix:
			if int(m.from) > a { // a stage the prefix does not cover
				tail = append(tail, list[k])
			}
			b = int(m.from)
		}
	}
	slices.Reverse(head)
	return append(head, tail...)
}

// cut chooses the cut points of primaries order, none slower than t, for
// the lowest latency: cost[s][j] is the least time of stages [0, s)
// covering layers [0, j).
func (pl *planner) cut(order []int, t float64) []Stage {
	k, layers := len(order), pl.m.Layers
	inf := math.Inf(1)
	cost := make([][]float64, k+1)
	from := make([][]int, k+1)
	for s := range cost {
		cost[s] = make([]float64, layers+1)
		from[s] = make([]int, layers+1)
		for j := range cost[s] {
			cost[s][j] = inf
		}
	}
	cost[0][0] = 0
	for s, p := range order {
		for i := s; i < layers; i++ {
			if cost[s][i] == inf {
				continue
			}
			for j := i + 1; j <= layers; j++ {
				if !pl.serves(p, i, j, t) {
					break // memory and time grow with j
				}
				if c := cost[s][i] + pl.seconds(p, i, j); c < cost[s+1][j] {
					cost[s+1][j], from[s+1][j] = c, i
				}
			}
		}
	}
	stages := make([]Stage, k)
	for s, j := k, layers; s > 0; s-- {
		i := from[s][j]
		stages[s-1] = pl.stage(order[s-1], i, j)
		j = i
	}
	return stages
}

func (pl *planner) stage(p, i, j int) Stage {
	return Stage{Start: i, End: j, Peers: []string{pl.peers[p].ID}, Seconds: pl.seconds(p, i, j), Bytes: pl.bytes(i, j)}
}

// replicate places the peers no stage uses as replicas: each in turn to
// the stage with the fewest replicas (the slowest first) that a spare
// fits, and of the spares that fit it the fastest at it.
func (pl *planner) replicate(stages []Stage) {
	spare := make([]bool, len(pl.peers))
	for i := range spare {
		spare[i] = true
	}
	for _, s := range stages {
		spare[pl.index[s.Peers[0]]] = false
	}
	for {
		bestStage, bestPeer := -1, -1
		for si, s := range stages {
			if pl.o.Replicas > 0 && len(s.Peers)-1 >= pl.o.Replicas {
				continue
			}
			if bestStage >= 0 {
				b := stages[bestStage]
				if len(s.Peers) > len(b.Peers) || len(s.Peers) == len(b.Peers) && s.Seconds <= b.Seconds {
					continue
				}
			}
			p := pl.fastestSpare(spare, s)
			if p >= 0 {
				bestStage, bestPeer = si, p
			}
		}
		if bestStage < 0 {
			return
		}
		spare[bestPeer] = false
		stages[bestStage].Peers = append(stages[bestStage].Peers, pl.peers[bestPeer].ID)
	}
}

// promote makes the fastest peer of each stage its primary (the one a
// route takes first), should a replica serve the stage faster than the
// peer it was cut for; the stage's Seconds are then the new primary's.
// The earliest of equals stays first, so the plan stays deterministic.
func (pl *planner) promote(stages []Stage) {
	for si := range stages {
		s := &stages[si]
		best := 0
		for i, id := range s.Peers {
			if pl.seconds(pl.index[id], s.Start, s.End) < pl.seconds(pl.index[s.Peers[best]], s.Start, s.End) {
				best = i
			}
		}
		if best > 0 {
			s.Peers[0], s.Peers[best] = s.Peers[best], s.Peers[0]
			s.Seconds = pl.seconds(pl.index[s.Peers[0]], s.Start, s.End)
		}
	}
}

// fastestSpare is the spare peer that fits stage s and serves it
// fastest (the least memory among equals), or −1.
func (pl *planner) fastestSpare(spare []bool, s Stage) int {
	best := -1
	for p := range pl.peers {
		if !spare[p] || !pl.fits(p, s.Start, s.End) {
			continue
		}
		if best < 0 {
			best = p
			continue
		}
		a, b := pl.seconds(p, s.Start, s.End), pl.seconds(best, s.Start, s.End)
		if a < b || a == b && pl.peers[p].MemoryBytes < pl.peers[best].MemoryBytes {
			best = p
		}
	}
	return best
}

// infeasible describes why the peers cannot hold the model.
func (pl *planner) infeasible() *InfeasibleError {
	m := &pl.m
	e := &InfeasibleError{Peers: len(pl.peers), NeededBytes: pl.bytes(0, m.Layers)}
	for l := range m.Layers {
		e.LargestLayerBytes = max(e.LargestLayerBytes, pl.bytes(l, l+1)-pl.edges(l, l+1))
	}
	for _, p := range pl.peers {
		e.AvailableBytes += p.MemoryBytes
		e.LargestPeerBytes = max(e.LargestPeerBytes, p.MemoryBytes)
	}
	return e
}

// edges is the embedding and head bytes a stage [i, j) holds.
func (pl *planner) edges(i, j int) int64 {
	var n int64
	if i == 0 {
		n += pl.m.EmbedBytes
	}
	if j == pl.m.Layers {
		n += pl.m.HeadBytes
	}
	return n
}
