package swarm

import "sync"

// An EventKind says what happened in the swarm.
type EventKind int

const (
	// MemberJoined: a member is alive that was not (the member itself
	// included, when it starts).
	MemberJoined EventKind = iota + 1
	// MemberLeft: a member said it leaves.
	MemberLeft
	// MemberFailed: a member stopped answering and was declared dead.
	MemberFailed
	// MemberUpdated: a member's metadata changed.
	MemberUpdated
	// PlanChanged: a newer plan arrived (or this member, coordinating,
	// made one).
	PlanChanged
	// PlanFailed: this member, coordinating, could not plan; the swarm
	// keeps its last plan.
	PlanFailed
)

func (k EventKind) String() string {
	switch k {
	case MemberJoined:
		return "joined"
	case MemberLeft:
		return "left"
	case MemberFailed:
		return "failed"
	case MemberUpdated:
		return "updated"
	case PlanChanged:
		return "plan"
	case PlanFailed:
		return "plan failed"
	}
	return "unknown"
}

// An Event is one change of the swarm.
type Event struct {
	Kind   EventKind
	Member Member     // the member, for the member events
	Plan   Assignment // the plan, for PlanChanged
	Err    error      // why, for PlanFailed
}

// eventQueue hands events to a callback from one goroutine, in order,
// without ever making the one that queues wait: memberlist calls its
// delegates with its locks held.
type eventQueue struct {
	mu      sync.Mutex
	pending []Event
	wake    chan struct{}
}

func newEventQueue() *eventQueue { return &eventQueue{wake: make(chan struct{}, 1)} }

func (q *eventQueue) push(e Event) {
	q.mu.Lock()
	q.pending = append(q.pending, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run calls f with each event until done closes.
func (q *eventQueue) run(f func(Event), done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-q.wake:
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for _, e := range batch {
			select {
			case <-done:
				return
			default:
			}
			f(e)
		}
	}
}
