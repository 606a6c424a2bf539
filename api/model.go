package api

import "strata/engine"

// A Stack is one slot's sequence: an engine.Session of a whole model, or
// a transport.Route through peers. Truncate forgets positions from pos on
// (the prefix cache keeps the ones a new prompt shares).
type Stack interface {
	engine.Stack
	Truncate(pos int)
}

// A Model is what the server serves: its vocabulary, its chat template,
// and one Stack per slot. Stacks must all have the same context.
type Model struct {
	ID       string // the name clients pass as "model"
	Vocab    *engine.Vocab
	Template *engine.ChatTemplate
	Stacks   []Stack
	// Backend and Device say where a local model computes (the swarm page
	// shows them); a model through peers leaves them empty.
	Backend, Device string
	Created         int64 // Unix seconds, for /v1/models
}

// Context is the positions each slot holds.
func (m *Model) Context() int { return m.Stacks[0].Context() }
