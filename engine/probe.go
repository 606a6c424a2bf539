package engine

// A Stage is a point in a layer where the hidden state can be observed.
type Stage int

// The stages of a layer.
const (
	AfterAttention   Stage = iota // x + attention(norm(x))
	AfterFeedForward              // x + feed-forward(norm(x)): the layer's output
)

func (s Stage) String() string {
	if s == AfterAttention {
		return "attention"
	}
	return "feed-forward"
}

// A Probe sees the hidden states ([positions][Embedding], flattened) of
// positions [pos, pos+n) after each stage of each layer (numbered in the
// whole model) as a Fragment computes them; in a ForwardMany of several
// parts it is called for each part's rows in turn. It must not keep
// hidden.
type Probe func(layer int, stage Stage, pos int, hidden []float32)

// observe hands the probe, if any, the rows of the pass: each segment's
// rows at its session's positions, in the order of the parts.
func (f *Fragment) observe(index int, stage Stage) {
	if f.probe == nil || f.probeErr != nil {
		return
	}
	e := f.Config.Embedding
	m := 0
	for _, sg := range f.segs {
		m = max(m, sg.row+sg.n)
	}
	n := m * e
	if cap(f.probed) < n {
		f.probed = make([]float32, n)
	}
	if err := f.b.Read(f.probed[:n], f.x, 0, m); err != nil {
		f.probeErr = err
		return
	}
	for _, sg := range f.segs {
		f.probe(f.Start+index, stage, sg.pos, f.probed[sg.row*e:(sg.row+sg.n)*e])
	}
}
