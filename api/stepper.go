package api

import "strata/engine"

// A Seq is one sequence's part of a step: the tokens it appends to its
// slot's KV cache (a chunk of its prompt, or the token it sampled last),
// and what comes back, the logits of its last position.
type Seq struct {
	Slot   int                // the slot, an index into Model.Stacks
	Tokens []int32            // appended at the slot's next positions
	Needs  engine.LogitsNeeds // the logits the sampler will look at
	Logits []float32          // out: the last position's logits (vocabulary size)
	Err    error              // out: this sequence failed; the others go on
}

// A Stepper advances every active sequence by one step. This is the seam
// of continuous batching: Step receives all the sequences at once, so an
// implementation may run them through the model as one multi-sequence
// batch (each row carrying its slot and position) and read the weights
// once for all of them. It must give each sequence the logits it would
// get alone, bit for bit, and fail only the sequences that failed.
type Stepper interface {
	Step(seqs []Seq)
}

// serialStepper evaluates the sequences one after another, each on its
// own stack: how stacks that cannot batch step (routes not of one
// transport.Group), and the fallback of a batch that failed.
type serialStepper struct {
	stacks []Stack
}

func (p serialStepper) Step(seqs []Seq) {
	for i := range seqs {
		q := &seqs[i]
		st := p.stacks[q.Slot]
		if ns, ok := st.(engine.NeedsStack); ok {
			ns.NeedLogits(q.Needs)
		}
		q.Err = st.Eval(q.Logits, q.Tokens)
	}
}
