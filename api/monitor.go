package api

import (
	"context"
	"sync"
	"time"

	"strata/transport"
)

// A Monitor probes every listed peer, replicas included, every interval:
// it asks what each serves and how loaded it is (transport.PeerInfo) and
// times a ping. It holds one connection per peer, of its own identity
// (DialOptions.Identity; give it one that is not the slots', so that its
// probes never take a connection the routes' quota needs).
type Monitor struct {
	addrs []string
	dial  transport.DialOptions
	every time.Duration

	mu    sync.Mutex
	state map[string]PeerState
}

// PeerState is what the monitor last saw of a peer.
type PeerState struct {
	Up      bool
	Err     string // why it is down
	Info    transport.PeerInfo
	RTT     time.Duration
	Checked time.Time
}

// NewMonitor watches addrs; every is the probe interval (default 2 s).
func NewMonitor(addrs []string, o transport.DialOptions, every time.Duration) *Monitor {
	if every <= 0 {
		every = 2 * time.Second
	}
	return &Monitor{addrs: addrs, dial: o, every: every, state: map[string]PeerState{}}
}

// Run probes until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, a := range m.addrs {
		wg.Go(func() { m.watch(ctx, a) })
	}
	wg.Wait()
}

func (m *Monitor) watch(ctx context.Context, addr string) {
	var p *transport.Peer
	defer func() {
		if p != nil {
			p.Close()
		}
	}()
	tick := time.NewTicker(m.every)
	defer tick.Stop()
	for {
		st, err := m.probe(ctx, &p, addr)
		if err != nil {
			if p != nil {
				p.Close()
				p = nil
			}
			st = PeerState{Err: err.Error()}
			if old, ok := m.Snapshot()[addr]; ok {
				st.Info = old.Info // what it served when it was up
			}
		}
		st.Checked = time.Now()
		m.mu.Lock()
		m.state[addr] = st
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (m *Monitor) probe(ctx context.Context, p **transport.Peer, addr string) (PeerState, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if *p == nil {
		np, err := transport.Dial(ctx, addr, m.dial)
		if err != nil {
			return PeerState{}, err
		}
		*p = np
	}
	info, err := (*p).Info(ctx)
	if err != nil {
		return PeerState{}, err
	}
	rtt, err := (*p).Ping(ctx)
	if err != nil {
		return PeerState{}, err
	}
	return PeerState{Up: true, Info: info, RTT: rtt}, nil
}

// Snapshot returns the latest state of each peer probed so far.
func (m *Monitor) Snapshot() map[string]PeerState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]PeerState, len(m.state))
	for k, v := range m.state {
		out[k] = v
	}
	return out
}

// Addrs are the peers watched, in the order given.
func (m *Monitor) Addrs() []string { return m.addrs }
