package api

import (
	"context"
	"time"
)

// An instance is a model being served: its slots' scheduler and what
// their routes did (the peer book). A server of one model has one for
// its life; a server of a Library has one per loaded model, which the
// pool loads and unloads.
type instance struct {
	model  *Model
	sched  *scheduler
	book   *peerBook
	close  func() // frees the model (nil: the caller of New owns it)
	memory int64  // bytes it was admitted for (Entry.Memory)

	stop context.CancelFunc
	done chan struct{} // closed when the scheduler's loop returned

	// Under the pool's lock.
	ready     chan struct{} // closed once loaded, or once the load failed (err)
	err       error
	users     int       // requests holding it
	used      time.Time // when the latest of them let go
	unloading bool
}

// newInstance makes the scheduler of m's slots: stepped by st, or by the
// default Stepper for its stacks when st is nil.
func (s *Server) newInstance(m *Model, st Stepper) *instance {
	if st == nil {
		st = defaultStepper(m.Stacks)
	}
	queue := s.o.Queue
	if queue == 0 {
		queue = 4 * len(m.Stacks)
	}
	in := &instance{model: m, book: newPeerBook(), ready: make(chan struct{}), done: make(chan struct{})}
	for i, stack := range m.Stacks {
		in.book.stepped(i, stack, 0) // the routes as they start
	}
	in.sched = newScheduler(m, st, queue, s.o.PromptChunk, s.metrics, in.book, s.o.Logger)
	return in
}

// defaultStepper batches slots that are Sessions of one local model
// (batchStepper) or the routes of one transport.Group (groupStepper);
// others step one after another.
func defaultStepper(stacks []Stack) Stepper {
	if b, ok := newBatchStepper(stacks); ok {
		return b
	}
	if g, ok := newGroupStepper(stacks); ok {
		return g
	}
	return serialStepper{stacks: stacks}
}

// start runs the scheduler until ctx ends or stop is called.
func (in *instance) start(ctx context.Context) {
	ctx, in.stop = context.WithCancel(ctx)
	go func() {
		defer close(in.done)
		in.sched.run(ctx)
	}()
}

// shut stops the scheduler, ends the jobs it still holds, and frees the
// model.
func (in *instance) shut() {
	if in.stop != nil {
		in.stop()
		<-in.done
	}
	in.sched.drain()
	if in.close != nil {
		in.close()
	}
}
