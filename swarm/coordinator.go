package swarm

import (
	"bytes"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// coordinate plans whenever the swarm changes, once it has settled for
// Config.Debounce (at most 4 debounces after the first change), when
// this member is the coordinator.
func (m *Membership) coordinate() {
	for {
		select {
		case <-m.done:
			return
		case <-m.changed:
		}
		deadline := time.Now().Add(4 * m.cfg.Debounce)
		t := time.NewTimer(m.cfg.Debounce)
	settle:
		for {
			select {
			case <-m.done:
				t.Stop()
				return
			case <-m.changed:
				t.Reset(min(m.cfg.Debounce, time.Until(deadline)))
			case <-t.C:
				break settle
			}
		}
		m.replan()
	}
}

// replan runs the plan function when this member coordinates, and
// distributes a plan that differs from the swarm's.
func (m *Membership) replan() {
	members := m.Members()
	if coordinatorOf(members) != m.id {
		return
	}
	body, err := m.cfg.Plan(members)
	if err == nil && len(body) > maxPlanSize {
		err = ErrPlanTooLarge
	}
	if err != nil {
		m.mu.Lock()
		repeat := m.planErr == err.Error()
		m.planErr = err.Error()
		m.mu.Unlock()
		if !repeat {
			m.log.Warn("swarm: cannot plan; the swarm keeps its plan", "members", len(members), "err", err)
			m.emit(Event{Kind: PlanFailed, Err: err})
		}
		return
	}
	m.mu.Lock()
	m.planErr = ""
	cur := m.plan
	if cur.Coordinator == m.id && bytes.Equal(cur.Plan, body) {
		m.mu.Unlock()
		return
	}
	a := Assignment{Version: cur.Version + 1, Coordinator: m.id, Plan: slices.Clone(body)}
	wire, err := encodeAssignment(m.cfg.Identity, a)
	if err != nil {
		m.mu.Unlock()
		m.log.Warn("swarm: cannot sign the plan", "err", err)
		return
	}
	m.plan, m.planWire = a, wire
	m.mu.Unlock()
	m.log.Info("swarm: new plan", "version", a.Version, "members", len(members), "bytes", len(body))
	m.emit(Event{Kind: PlanChanged, Plan: a})
	m.distribute(wire)
}

// distributeParallel bounds the plan's concurrent sends.
const distributeParallel = 16

// distribute sends the plan to every other member over memberlist's
// reliable (TCP, encrypted) messages. One that misses it gets it by
// push/pull.
func (m *Membership) distribute(wire []byte) {
	sem := make(chan struct{}, distributeParallel)
	var wg sync.WaitGroup
	m.mu.Lock()
	var to []memberlist.Node
	for id, n := range m.nodes {
		if id != m.id {
			to = append(to, n.ml)
		}
	}
	m.mu.Unlock()
	for _, n := range to {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := m.ml.SendReliable(&n, wire); err != nil {
				m.log.Debug("swarm: plan not sent; push/pull will carry it", "to", n.Name, "err", err)
			}
		})
	}
	wg.Wait()
}

// offer adopts a plan that is newer than this member's. A coordinator
// that adopts another's plan plans again, to outbid it.
func (m *Membership) offer(a Assignment, wire []byte) {
	m.mu.Lock()
	if !a.newer(m.plan) {
		m.mu.Unlock()
		return
	}
	m.plan, m.planWire = a, slices.Clone(wire)
	m.mu.Unlock()
	m.log.Debug("swarm: plan", "version", a.Version, "coordinator", a.Coordinator)
	m.emit(Event{Kind: PlanChanged, Plan: a})
	if m.cfg.Plan != nil && a.Coordinator != m.id {
		m.signal()
	}
}
