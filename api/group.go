package api

import "strata/transport"

// groupStepper runs each step of slots that are the routes of one
// transport.Group as one EvalMany: every sequence's tokens (prompt chunks
// and decode tokens together) cross each hop in one multi-session
// request, which the peer runs as one batch, each sequence's logits the
// same bit for bit as alone. A sequence whose route fails gets the error;
// the others go on.
type groupStepper struct {
	group  *transport.Group
	routes []*transport.Route // by slot
	steps  []transport.Step   // the step's, one per sequence
}

// newGroupStepper returns a groupStepper for stacks that are all routes
// of one Group, else false.
func newGroupStepper(stacks []Stack) (*groupStepper, bool) {
	p := &groupStepper{}
	for _, st := range stacks {
		r, ok := st.(*transport.Route)
		if !ok || r.Group() == nil || p.group != nil && r.Group() != p.group {
			return nil, false
		}
		p.group = r.Group()
		p.routes = append(p.routes, r)
	}
	return p, p.group != nil
}

// Step runs the sequences through the group's hops together.
func (p *groupStepper) Step(seqs []Seq) {
	p.steps = p.steps[:0]
	for _, q := range seqs {
		p.steps = append(p.steps, transport.Step{Route: p.routes[q.Slot], Tokens: q.Tokens, Needs: q.Needs, Logits: q.Logits})
	}
	p.group.EvalMany(p.steps)
	for i := range seqs {
		seqs[i].Err = p.steps[i].Err
	}
	clear(p.steps) // hold no tokens or logits past the step
}
