package swarm

import (
	"errors"
	"slices"

	"github.com/hashicorp/memberlist"
)

// delegate is how memberlist calls the member. memberlist calls it from
// its packet and stream handlers, some with its node lock held: nothing
// here blocks or calls memberlist back.
type delegate struct{ m *Membership }

// NodeMeta is the member's signed metadata, at most memberlist's limit
// (UpdateMeta and Join refuse more).
func (d *delegate) NodeMeta(limit int) []byte {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	if len(d.m.meta) > limit {
		return nil // unreachable: encodeMeta refuses it
	}
	return d.m.meta
}

// NotifyMsg receives a plan a coordinator sent this member.
func (d *delegate) NotifyMsg(b []byte) { d.m.receive(b, "message") }

// GetBroadcasts has nothing to say: plans go by reliable messages and
// push/pull, which carry any size.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState is the newest plan this member has, for push/pull: a member
// that joins late gets it from its seed, and members that missed one get
// it within a push/pull interval.
func (d *delegate) LocalState(join bool) []byte {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	return d.m.planWire
}

// MergeRemoteState takes the plan of the other side of a push/pull.
func (d *delegate) MergeRemoteState(b []byte, join bool) {
	if len(b) > 0 {
		d.m.receive(b, "push/pull")
	}
}

// NotifyAlive admits only members whose metadata is signed by the
// identity they are named by, for the address they gossip from.
func (d *delegate) NotifyAlive(n *memberlist.Node) error {
	_, err := memberOf(n)
	if err != nil {
		d.m.warnOnce(n.Name+" "+nodeGossip(n), "swarm: refusing a member", "id", n.Name, "gossip", nodeGossip(n), "err", err)
	}
	return err
}

func (d *delegate) NotifyJoin(n *memberlist.Node)   { d.m.nodeEvent(MemberJoined, n) }
func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.m.nodeEvent(MemberUpdated, n) }

// NotifyLeave tells a leave from a failure by the flag the member set in
// its metadata before it left (memberlist's Node.State says neither).
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	if _, leaving, err := memberLeaving(n); err == nil && leaving {
		d.m.nodeEvent(MemberLeft, n)
	} else {
		d.m.nodeEvent(MemberFailed, n)
	}
}

// nodeEvent records what memberlist told of a member (with its node
// lock held) and passes it on.
func (m *Membership) nodeEvent(k EventKind, n *memberlist.Node) {
	mem, leaving, err := memberLeaving(n)
	if err != nil {
		mem = Member{ID: n.Name, Gossip: nodeGossip(n)}
	}
	m.mu.Lock()
	switch {
	case k == MemberLeft || k == MemberFailed:
		delete(m.nodes, n.Name)
	case err == nil:
		c := *n
		c.Addr = slices.Clone(n.Addr)
		c.Meta = slices.Clone(n.Meta)
		m.nodes[n.Name] = node{ml: c, member: mem, leaving: leaving}
	}
	m.mu.Unlock()
	m.log.Debug("swarm: member "+k.String(), "id", n.Name, "gossip", mem.Gossip)
	m.emit(Event{Kind: k, Member: mem})
	m.signal()
}

// receive takes a plan from another member.
func (m *Membership) receive(b []byte, via string) {
	a, err := decodeAssignment(b)
	if err != nil {
		if !errors.Is(err, errNotPlan) {
			m.warnOnce(err.Error(), "swarm: refusing a plan", "via", via, "err", err)
		}
		return
	}
	m.offer(a, b)
}

// maxWarned bounds how many distinct refusals are logged.
const maxWarned = 1024

func (m *Membership) warnOnce(key, msg string, args ...any) {
	m.mu.Lock()
	seen := m.warned[key]
	if !seen && len(m.warned) < maxWarned {
		m.warned[key] = true
	}
	m.mu.Unlock()
	if !seen {
		m.log.Warn(msg, args...)
	}
}
