package swarm

import (
	"errors"
	"fmt"
	"math"

	"strata/engine"
)

// Model is what placement knows of a model. Sizes are bytes.
type Model struct {
	Layers     int
	LayerBytes []int64 // weight bytes of each layer (len Layers)
	EmbedBytes int64   // the token embedding, held by the first stage
	// HeadBytes is the output norm and head, held by the last stage; a
	// head tied to the embedding counts the embedding again (the last
	// stage holds it too).
	HeadBytes int64
	// KVBytesPerLayer is the KV cache one layer needs at the serving
	// context (all the sessions a stage holds together).
	KVBytesPerLayer int64
	// ActivationBytes is what each stage allocates besides weights and KV
	// cache: the activations of a batch (engine.Memory.Activations).
	ActivationBytes int64
}

// Peer is one member's measurements.
type Peer struct {
	ID          string // stable identity (the transport identity's string form)
	MemoryBytes int64  // memory free for weights, KV cache and activations on its backend
	// LayerSeconds is the decode time of one layer of the model's mean
	// layer bytes, per token. Decode reads every weight once a token, so
	// Place scales it by each layer's bytes: layer l costs
	// LayerSeconds × LayerBytes[l] / mean(LayerBytes).
	LayerSeconds float64
	// HeadSeconds is the decode time of the output norm and head per
	// token; 0 derives it from LayerSeconds and the bytes, as a layer's.
	HeadSeconds float64
	// EmbedSeconds is the time of the embedding per token; 0 counts it as
	// nothing (it copies one row).
	EmbedSeconds float64
	// HopSeconds is what reaching this peer adds per token (a network
	// round trip); 0 if unknown.
	HopSeconds float64
}

// Options tune Place. The zero value is valid.
type Options struct {
	// Replicas is the most replicas (peers besides the primary) a stage
	// gets; 0 places every spare peer that fits somewhere.
	Replicas int
}

// Validate refuses options Place cannot honour.
func (o Options) Validate() error {
	if o.Replicas < 0 {
		return fmt.Errorf("swarm: %d replicas a stage: want 0 (every spare peer) or more", o.Replicas)
	}
	return nil
}

// Stage is one range of layers of a plan and the peers that serve it.
type Stage struct {
	Start, End int      // layers [Start, End)
	Peers      []string // Peers[0] the primary, the rest its replicas
	// Seconds is the primary's predicted decode time per token: its
	// layers, the embedding (first stage) or head (last), and its hop.
	Seconds float64
	// Bytes is the memory the stage takes on each of its peers: weights,
	// KV cache and activations.
	Bytes int64
}

// Plan is a placement of a model: stages in pipeline order.
type Plan struct {
	Stages []Stage
	// PredictedTokensPerSecond is the pipelined decode throughput,
	// 1 / the slowest stage's Seconds. Place maximises it rather than
	// single-stream speed: with several sequences in flight (server
	// slots, batched requests) a pipeline finishes a token each time its
	// slowest stage does, and a swarm is built to serve many.
	PredictedTokensPerSecond float64
	// LatencySeconds is one token's time through every stage, the sum of
	// their Seconds: what a single sequence alone sees. Among plans of the
	// same throughput Place takes one of the lowest latency.
	LatencySeconds float64
}

// InfeasibleError reports a swarm that cannot hold the model. Sizes are
// bytes.
type InfeasibleError struct {
	Peers int
	// NeededBytes is the whole model on one pipeline: every layer with
	// its KV cache, the embedding, the head and one stage's activations.
	NeededBytes    int64
	AvailableBytes int64 // all the peers' memory together
	// LargestLayerBytes is the smallest stage there can be: the largest
	// layer with its KV cache and activations.
	LargestLayerBytes int64
	LargestPeerBytes  int64 // the memory of the largest peer
}

func (e *InfeasibleError) Error() string {
	b := engine.Bytes
	switch {
	case e.Peers == 0:
		return fmt.Sprintf("swarm: no peers to place the model on (it needs %s)", b(e.NeededBytes))
	case e.AvailableBytes < e.NeededBytes:
		if e.Peers == 1 {
			return fmt.Sprintf("swarm: the model needs %s (weights, KV cache, activations) but the one peer has %s",
				b(e.NeededBytes), b(e.AvailableBytes))
		}
		return fmt.Sprintf("swarm: the model needs %s (weights, KV cache, activations) but the %d peers have %s in all",
			b(e.NeededBytes), e.Peers, b(e.AvailableBytes))
	case e.LargestPeerBytes < e.LargestLayerBytes:
		return fmt.Sprintf("swarm: the largest layer needs %s with its KV cache and activations but the largest of the %d peers has %s",
			b(e.LargestLayerBytes), e.Peers, b(e.LargestPeerBytes))
	}
	return fmt.Sprintf("swarm: no arrangement of the %d peers fits the model: it needs %s, they have %s in all, the largest %s",
		e.Peers, b(e.NeededBytes), b(e.AvailableBytes), b(e.LargestPeerBytes))
}

// Place assigns the model's layers to peers: contiguous ranges forming
// one pipeline, each served by a primary whose memory holds it, with the
// slowest stage as fast as can be (see Plan). It chooses which peers are
// primaries and their order. Peers left over become replicas of the
// least-replicated stages, the slowest first, where their memory holds
// the stage. The plan depends on the peers, not on their order in peers.
//
// The bottleneck time is found by bisection, each candidate checked by a
// search over subsets of peers (up to exactPeers peers; the best reach
// of the layers for each subset, which is exact) or, for more peers, by
// offering the peers in a few orders to a pipeline built from both ends
// (orderList; within 10% of the exact search on swarms of 6 to 10 peers
// in the tests, 0.01% on average). The cut points of the order found are
// then chosen for the lowest latency at that bottleneck. A swarm that
// cannot hold the model is an *InfeasibleError.
func Place(m Model, peers []Peer, o Options) (Plan, error) {
	pl, err := newPlanner(m, peers, o)
	if err != nil {
		return Plan{}, err
	}
	return pl.place()
}

func (pl *planner) place() (Plan, error) {
	order, t := pl.bottleneck()
	if order == nil {
		return Plan{}, pl.infeasible()
	}
	stages := pl.cut(order, t)
	pl.replicate(stages)
	pl.promote(stages)
	return planOf(stages), nil
}

// EvenPlan is the equal-layer split of the peers as given: peer i serves
// the i-th of min(len(peers), Layers) ranges of nearly equal layer counts
// (engine.EvenRanges), as a person cutting the model by hand would; no
// replicas. A range a peer's memory does not hold is an error.
func EvenPlan(m Model, peers []Peer) (Plan, error) {
	pl, err := newPlanner(m, peers, Options{})
	if err != nil {
		return Plan{}, err
	}
	n := min(len(peers), m.Layers)
	if n == 0 {
		return Plan{}, pl.infeasible()
	}
	ranges, err := engine.EvenRanges(m.Layers, n)
	if err != nil {
		return Plan{}, fmt.Errorf("swarm: %w", err)
	}
	var stages []Stage
	for i, r := range ranges {
		p := pl.index[peers[i].ID]
		if !pl.fits(p, r[0], r[1]) {
			return Plan{}, fmt.Errorf("swarm: equal split: layers %d-%d need %s, peer %s has %s",
				r[0], r[1]-1, engine.Bytes(pl.bytes(r[0], r[1])), peers[i].ID, engine.Bytes(peers[i].MemoryBytes))
		}
		stages = append(stages, pl.stage(p, r[0], r[1]))
	}
	return planOf(stages), nil
}

func planOf(stages []Stage) Plan {
	p := Plan{Stages: stages}
	slowest := 0.0
	for _, s := range stages {
		slowest = max(slowest, s.Seconds)
		p.LatencySeconds += s.Seconds
	}
	if slowest > 0 {
		p.PredictedTokensPerSecond = 1 / slowest
	}
	return p
}

func (m *Model) validate() error {
	if m.Layers < 1 || len(m.LayerBytes) != m.Layers {
		return fmt.Errorf("swarm: a model of %d layers with %d layer sizes", m.Layers, len(m.LayerBytes))
	}
	for i, b := range m.LayerBytes {
		if b <= 0 || b > math.MaxInt64/int64(4*m.Layers) {
			return fmt.Errorf("swarm: layer %d of %d bytes", i, b)
		}
	}
	for _, s := range []struct {
		name string
		n    int64
	}{{"embedding", m.EmbedBytes}, {"head", m.HeadBytes}, {"KV cache per layer", m.KVBytesPerLayer}, {"activations", m.ActivationBytes}} {
		if s.n < 0 || s.n > math.MaxInt64/int64(4*m.Layers) {
			return fmt.Errorf("swarm: a model whose %s is %d bytes", s.name, s.n)
		}
	}
	return nil
}

func (p *Peer) validate() error {
	finite := func(x float64) bool { return x >= 0 && !math.IsInf(x, 0) } // NaN fails x >= 0
	switch {
	case p.ID == "":
		return errors.New("swarm: a peer without an ID")
	case p.MemoryBytes < 0:
		return fmt.Errorf("swarm: peer %s: memory of %d bytes", p.ID, p.MemoryBytes)
	case !(p.LayerSeconds > 0) || math.IsInf(p.LayerSeconds, 0):
		return fmt.Errorf("swarm: peer %s: %v seconds a layer: want a positive measurement", p.ID, p.LayerSeconds)
	case !finite(p.HeadSeconds) || !finite(p.EmbedSeconds) || !finite(p.HopSeconds):
		return fmt.Errorf("swarm: peer %s: head %v, embedding %v, hop %v seconds: want finite, not negative",
			p.ID, p.HeadSeconds, p.EmbedSeconds, p.HopSeconds)
	}
	return nil
}
