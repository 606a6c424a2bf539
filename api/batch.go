package api

import "strata/engine"

// batchStepper runs each step as one multi-sequence batch: the slots are
// Sessions of one whole-model Fragment, and every sequence of a step
// (prompt chunks and decode tokens together) goes through one
// ForwardMany, which reads the weights once for all of them and gives
// each the logits it would get alone, bit for bit. A Session computes
// every logit, so Needs has nothing to save here.
type batchStepper struct {
	frag     *engine.Fragment
	sessions []*engine.Session // by slot
	serial   serialStepper     // runs a failed batch again, one sequence at a time
	parts    []engine.Part     // the step's parts, one per sequence
	pos      []int             // each sequence's position before the step
}

// newBatchStepper returns a batchStepper for stacks that are all Sessions
// of one whole-model Fragment, else false. Routes through peers batch
// with groupStepper.
func newBatchStepper(stacks []Stack) (*batchStepper, bool) {
	p := &batchStepper{serial: serialStepper{stacks: stacks}}
	for _, st := range stacks {
		s, ok := st.(*engine.Session)
		if !ok || p.frag != nil && s.Fragment() != p.frag {
			return nil, false
		}
		p.frag = s.Fragment()
		p.sessions = append(p.sessions, s)
	}
	if p.frag == nil || !p.frag.First() || !p.frag.Last() {
		return nil, false
	}
	return p, true
}

// Step runs the sequences as one batch. If the batch fails, the sessions
// are put back where they were and the sequences run one by one, so that
// an error lands on the sequence that has it and the others go on.
func (p *batchStepper) Step(seqs []Seq) {
	p.parts, p.pos = p.parts[:0], p.pos[:0]
	for i := range seqs {
		q := &seqs[i]
		s := p.sessions[q.Slot]
		p.parts = append(p.parts, engine.Part{Session: s, Batch: engine.Batch{Tokens: q.Tokens}, Out: q.Logits})
		p.pos = append(p.pos, s.Pos())
	}
	err := p.frag.ForwardMany(p.parts)
	clear(p.parts) // hold no tokens or logits past the step
	if err == nil {
		for i := range seqs {
			seqs[i].Err = nil
		}
		return
	}
	for i := range seqs {
		p.sessions[seqs[i].Slot].Truncate(p.pos[i])
	}
	p.serial.Step(seqs)
}
