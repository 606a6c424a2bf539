package swarm

import (
	"context"
	"fmt"
	"slices"
	"time"

	"strata/engine"
	"strata/gguf"
)

// MeasureOptions tune Measure. The zero value is valid.
type MeasureOptions struct {
	// Layers is the layers of the fragment timed for decode and prompt
	// (0: 1); at most the model's layers less the last, which is timed
	// with the head.
	Layers int
	// Tokens is the decode steps timed on each fragment (0: 8); fewer,
	// down to 3, once the budget is spent.
	Tokens int
	// Prompt is the positions of the prompt batch timed (0: 32).
	Prompt int
	// Budget is the time Measure aims to take, loading included (0: 2 s).
	Budget time.Duration
	// MemoryBytes is the backend's memory for weights, KV cache and
	// activations; 0 takes the machine's (engine.MachineMemory), which is
	// the CPU backend's. A GPU's caller gives its device memory.
	MemoryBytes int64
}

// Validate refuses options Measure cannot honour.
func (o MeasureOptions) Validate() error {
	if o.Layers < 0 || o.Tokens < 0 || o.Prompt < 0 || o.Budget < 0 || o.MemoryBytes < 0 {
		return fmt.Errorf("swarm: measure %d layers, %d tokens, a prompt of %d, within %v, memory %d: want 0 (the default) or more",
			o.Layers, o.Tokens, o.Prompt, o.Budget, o.MemoryBytes)
	}
	return nil
}

// Measurement is what a peer measured of itself on one backend.
type Measurement struct {
	Backend, Device string
	// LayerSeconds is the decode time of one layer of the model's mean
	// layer bytes per token, as Peer.LayerSeconds.
	LayerSeconds float64
	// PromptLayerSeconds is the time of one layer (mean bytes) per
	// position in a prompt batch of Positions positions.
	PromptLayerSeconds float64
	// HeadSeconds is the decode time of the output norm and head per
	// token: the last layer's fragment less that layer's share. 0 where it
	// cannot be told apart (a model of one layer, or a difference lost in
	// the noise); Place then derives it from LayerSeconds.
	HeadSeconds float64
	// FragmentSeconds is the decode time per token of the timed fragment,
	// all its Layers together.
	FragmentSeconds float64
	MemoryBytes     int64
	MemorySource    string // where MemoryBytes comes from
	// What was timed: the fragment's layers, decode steps of each
	// fragment, prompt positions.
	Layers, Tokens, Positions int
	Elapsed                   time.Duration
}

// Peer is the measurement as Place takes it, for the peer id, with its
// hop unknown.
func (m Measurement) Peer(id string) Peer {
	return Peer{ID: id, MemoryBytes: m.MemoryBytes, LayerSeconds: m.LayerSeconds, HeadSeconds: m.HeadSeconds}
}

// Measure times the model in file on backend b: a fragment of the first
// Layers layers, then one of the last layer and the head, each loaded,
// run on a prompt batch (once to bring the weights into memory, once
// timed) and a few decode steps (one to warm up, then the median of the
// others), and closed. The last
// fragment runs on the hidden states the first produced. The fragments'
// memory is released before Measure returns; ctx stops it between passes.
func Measure(ctx context.Context, file *gguf.File, b engine.Backend, o MeasureOptions) (Measurement, error) {
	begin := time.Now()
	if err := o.Validate(); err != nil {
		return Measurement{}, err
	}
	o.Layers = orDefault(o.Layers, 1)
	o.Tokens = max(orDefault(o.Tokens, 8), 3)
	o.Prompt = orDefault(o.Prompt, 32)
	o.Budget = orDefault(o.Budget, 2*time.Second)
	model, err := ModelOf(file, 0, 0) // refuses a fragment file
	if err != nil {
		return Measurement{}, err
	}
	layers := model.Layers
	k := min(o.Layers, max(layers-1, 1))
	r := Measurement{Backend: b.Name(), Device: b.Device(), Layers: k, Positions: o.Prompt,
		MemoryBytes: o.MemoryBytes, MemorySource: "MeasureOptions.MemoryBytes"}
	if r.MemoryBytes == 0 {
		r.MemoryBytes, r.MemorySource = engine.MachineMemory()
	}
	c, err := engine.ConfigFrom(file)
	if err != nil {
		return Measurement{}, err
	}
	tokens := make([]int32, o.Prompt+1+o.Tokens)
	for i := range tokens {
		tokens[i] = int32((1 + 7919*i) % c.Vocab) // any tokens: the time does not depend on them
	}
	deadline := begin.Add(o.Budget)
	if layers > 1 {
		deadline = begin.Add(o.Budget / 2) // half for each fragment
	}
	first, err := timeFragment(ctx, file, b, 0, k, pass{tokens: tokens}, o, deadline)
	if err != nil {
		return Measurement{}, err
	}
	var bytes int64
	for _, n := range model.LayerBytes[:k] {
		bytes += n
	}
	share := float64(bytes) / (float64(k) * meanBytes(model))
	r.FragmentSeconds = first.decode
	r.LayerSeconds = first.decode / float64(k) / share
	r.PromptLayerSeconds = first.prompt / float64(o.Prompt*k) / share
	r.Tokens = first.steps
	if layers > 1 {
		o.Tokens = first.steps // the states the first produced
		last, err := timeFragment(ctx, file, b, layers-1, layers, pass{hidden: first.hidden}, o, begin.Add(o.Budget))
		if err != nil {
			return Measurement{}, err
		}
		layer := r.LayerSeconds * float64(model.LayerBytes[layers-1]) / meanBytes(model)
		r.HeadSeconds = max(last.decode-layer, 0)
		r.Tokens = last.steps
	}
	r.Elapsed = time.Since(begin)
	return r, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func meanBytes(m Model) float64 {
	var s int64
	for _, n := range m.LayerBytes {
		s += n
	}
	return float64(s) / float64(m.Layers)
}

// pass is a fragment's input: tokens for a first fragment, hidden states
// (a row per position) for the others.
type pass struct {
	tokens []int32
	hidden []float32
}

// timed is what timeFragment measured.
type timed struct {
	decode float64   // median seconds of a decode step
	prompt float64   // seconds of the prompt batch
	steps  int       // decode steps timed
	hidden []float32 // the hidden states produced, a row per position (not a last fragment)
}

// timeFragment loads layers [start, end), runs the prompt batch (to load
// the weights) and a decode step (to warm up), the decode steps (timed,
// until the deadline once three are), then the prompt batch again
// (timed), and closes the fragment.
func timeFragment(ctx context.Context, file *gguf.File, b engine.Backend, start, end int, in pass, o MeasureOptions, deadline time.Time) (timed, error) {
	var r timed
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("swarm: measure: %w", err)
	}
	frag, err := engine.NewFragment(file, b, engine.FragmentOptions{Start: start, End: end, Batch: o.Prompt})
	if err != nil {
		return r, err
	}
	defer frag.Close()
	s, err := frag.NewSession(o.Prompt + 1 + o.Tokens)
	if err != nil {
		return r, err
	}
	defer s.Close()
	width := frag.Config.Embedding
	batch := func(from, n int) engine.Batch {
		if in.tokens != nil {
			return engine.Batch{Tokens: in.tokens[from : from+n]}
		}
		return engine.Batch{Hidden: in.hidden[from*width : (from+n)*width]}
	}
	out := make([]float32, frag.OutputSize(o.Prompt, false))
	if !frag.Last() {
		r.hidden = make([]float32, 0, (o.Prompt+1+o.Tokens)*width)
	}
	forward := func(from, n int) (float64, error) {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("swarm: measure: %w", err)
		}
		t := time.Now()
		if err := frag.Forward(out, s, batch(from, n)); err != nil {
			return 0, err
		}
		elapsed := time.Since(t).Seconds()
		if r.hidden != nil && len(r.hidden) < (from+n)*width {
			r.hidden = append(r.hidden, out[:n*width]...)
		}
		return elapsed, nil
	}
	for _, n := range []int{o.Prompt, 1} { // the warm-up
		if _, err := forward(s.Pos(), n); err != nil {
			return r, err
		}
	}
	var steps []float64
	for i := range o.Tokens {
		if i >= 3 && time.Now().After(deadline) {
			break
		}
		t, err := forward(o.Prompt+1+i, 1)
		if err != nil {
			return r, err
		}
		steps = append(steps, t)
	}
	s.Truncate(0)
	if r.prompt, err = forward(0, o.Prompt); err != nil {
		return r, err
	}
	slices.Sort(steps)
	r.decode, r.steps = steps[len(steps)/2], len(steps)
	if n := len(steps); n%2 == 0 {
		r.decode = (steps[n/2-1] + steps[n/2]) / 2
	}
	return r, nil
}
