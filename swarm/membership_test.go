package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"strata/transport"
)

// Test timings: loopback answers in microseconds, so failure detection
// can be ten times LAN's speed.
const (
	testProbe    = 100 * time.Millisecond
	testDebounce = 50 * time.Millisecond
)

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newSecret(t *testing.T) transport.Swarm {
	t.Helper()
	s, err := transport.NewSwarm()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newIdentity(t *testing.T) *transport.Identity {
	t.Helper()
	id, err := transport.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func testConfig(t *testing.T, s transport.Swarm) Config {
	return Config{Identity: newIdentity(t), Swarm: s, ProbeInterval: testProbe, Debounce: testDebounce, Logger: testLogger()}
}

// idPlan is a plan function for tests: the members' IDs in JSON. It
// records every member list it was given.
type idPlan struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (p *idPlan) plan(members []Member) ([]byte, error) {
	ids := make([]string, len(members))
	p.mu.Lock()
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	for i, m := range members {
		ids[i] = m.ID
		p.seen[m.ID] = true
	}
	p.mu.Unlock()
	return json.Marshal(ids)
}

func (p *idPlan) saw(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[id]
}

func planIDs(t *testing.T, a Assignment) []string {
	var ids []string
	if err := json.Unmarshal(a.Plan, &ids); err != nil {
		t.Fatalf("plan %q: %v", a.Plan, err)
	}
	return ids
}

func join(t *testing.T, cfg Config) *Membership {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := Join(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// eventually polls cond until it holds, failing after limit; it returns
// how long it took.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func ids(ms []*Membership) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID()
	}
	slices.Sort(out)
	return out
}

// converged reports whether every member holds one plan, from the
// coordinator want, naming exactly the members.
func converged(t *testing.T, ms []*Membership, want string) bool {
	var first Assignment
	for i, m := range ms {
		a, ok := m.Plan()
		if !ok || a.Coordinator != want || !slices.Equal(planIDs(t, a), ids(ms)) {
			return false
		}
		if i == 0 {
			first = a
		} else if a.Version != first.Version {
			return false
		}
	}
	return true
}

// TestPlanConvergence: five members on loopback, each joined through
// the first, hold the same plan, naming all five, from the lowest ID;
// when that coordinator dies without a word, the next lowest takes over
// with a newer plan naming the four left.
func TestPlanConvergence(t *testing.T) {
	s := newSecret(t)
	var p idPlan
	var ms []*Membership
	for i := range 5 {
		cfg := testConfig(t, s)
		cfg.Plan = p.plan
		if i > 0 {
			cfg.Join = []string{ms[0].Gossip()}
		}
		ms = append(ms, join(t, cfg))
	}
	slices.SortFunc(ms, func(a, b *Membership) int { return strings.Compare(a.ID(), b.ID()) })
	took := eventually(t, 5*time.Second, "plan reaches all five", func() bool { return converged(t, ms, ms[0].ID()) })
	t.Logf("5 members: one plan everywhere %v after the last joined", took.Round(time.Millisecond))
	for _, m := range ms {
		if got := m.Coordinator(); got != ms[0].ID() {
			t.Errorf("%s sees coordinator %s, want %s", m.ID(), got, ms[0].ID())
		}
	}
	before, _ := ms[1].Plan()

	dead := time.Now()
	ms[0].Close()
	rest := ms[1:]
	took = eventually(t, 10*time.Second, "a new coordinator's plan reaches the four left", func() bool { return converged(t, rest, rest[0].ID()) })
	t.Logf("coordinator killed: the next one's plan everywhere after %v", time.Since(dead).Round(time.Millisecond))
	_ = took
	after, _ := rest[0].Plan()
	if after.Version <= before.Version {
		t.Errorf("plan version %d after the takeover, want more than %d", after.Version, before.Version)
	}
}

// TestLateJoiner: a member that joins a settled swarm holds its plan as
// soon as Join returns (from the seed's push/pull), and a client (no
// plan function) never coordinates even with the lowest ID.
func TestLateJoiner(t *testing.T) {
	s := newSecret(t)
	var p idPlan
	a := testConfig(t, s)
	a.Plan = p.plan
	ma := join(t, a)
	b := testConfig(t, s)
	b.Plan = p.plan
	b.Join = []string{ma.Gossip()}
	mb := join(t, b)
	eventually(t, 5*time.Second, "plan reaches both", func() bool { return converged(t, []*Membership{ma, mb}, min(ma.ID(), mb.ID())) })

	// A client's identity below both, so that it would coordinate if it
	// could.
	var cid *transport.Identity
	for cid == nil || cid.ID() > min(ma.ID(), mb.ID()) {
		cid = newIdentity(t)
	}
	c := testConfig(t, s)
	c.Identity = cid
	c.Join = []string{mb.Gossip()}
	mc := join(t, c)
	if _, ok := mc.Plan(); !ok {
		t.Fatal("a member that joined late has no plan when Join returns")
	}
	if got, want := mc.Coordinator(), min(ma.ID(), mb.ID()); got != want {
		t.Errorf("coordinator %s, want %s: a client coordinates?", got, want)
	}
	all := []*Membership{ma, mb, mc}
	eventually(t, 5*time.Second, "the plan naming the client reaches all three", func() bool { return converged(t, all, min(ma.ID(), mb.ID())) })
}

// recorder collects a member's events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) has(k EventKind, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Kind == k && e.Member.ID == id {
			return true
		}
	}
	return false
}

// TestEvents: joins, metadata updates, a leave and a failure each reach
// the Events callback, told apart.
func TestEvents(t *testing.T) {
	s := newSecret(t)
	var r recorder
	a := testConfig(t, s)
	a.Events = r.add
	ma := join(t, a)
	b := testConfig(t, s)
	b.Join = []string{ma.Gossip()}
	mb := join(t, b)
	c := testConfig(t, s)
	c.Join = []string{ma.Gossip()}
	mc := join(t, c)
	eventually(t, 2*time.Second, "joins", func() bool { return r.has(MemberJoined, mb.ID()) && r.has(MemberJoined, mc.ID()) })

	want := Meta{Data: "127.0.0.1:7000", Backend: "cpu", LayerSeconds: 0.002, MemoryBytes: 8 << 30, Start: 4, End: 12, PlanVersion: 3}
	if err := mb.UpdateMeta(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "metadata update", func() bool { return r.has(MemberUpdated, mb.ID()) })
	for _, m := range append(ma.Members(), mb.Members()...) {
		if m.ID == mb.ID() && m.Meta != want {
			t.Errorf("member's meta %+v, want %+v", m.Meta, want)
		}
	}

	if err := mb.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := mb.Leave(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("a second Leave: err = %v, want ErrClosed", err)
	}
	if err := mb.UpdateMeta(context.Background(), want); !errors.Is(err, ErrClosed) {
		t.Errorf("UpdateMeta after Leave: err = %v, want ErrClosed", err)
	}
	eventually(t, 2*time.Second, "leave", func() bool { return r.has(MemberLeft, mb.ID()) })
	mc.Close()
	took := eventually(t, 10*time.Second, "failure", func() bool { return r.has(MemberFailed, mc.ID()) })
	t.Logf("a member that died was declared failed after %v", took.Round(time.Millisecond))
	if r.has(MemberFailed, mb.ID()) || r.has(MemberLeft, mc.ID()) {
		t.Error("a leave reported as a failure, or a failure as a leave")
	}
	if got := len(ma.Members()); got != 1 {
		t.Errorf("%d members left, want 1", got)
	}
}

// TestUpdateMetaTooLarge: metadata past memberlist's limit is refused
// with the sizes, and the member keeps what it had.
func TestUpdateMetaTooLarge(t *testing.T) {
	s := newSecret(t)
	cfg := testConfig(t, s)
	cfg.Meta = Meta{Backend: "cpu"}
	m := join(t, cfg)
	err := m.UpdateMeta(context.Background(), Meta{Backend: "vulkan", Device: strings.Repeat("x", 450)})
	if !errors.Is(err, ErrMetaTooLarge) || !strings.Contains(err.Error(), "512") {
		t.Fatalf("err = %v, want ErrMetaTooLarge naming 512", err)
	}
	if got := m.Members()[0].Meta; got.Backend != "cpu" {
		t.Errorf("meta %+v after a refused update", got)
	}
	cfg = testConfig(t, s)
	cfg.Meta = Meta{Device: strings.Repeat("x", 450)}
	if _, err := Join(context.Background(), cfg); !errors.Is(err, ErrMetaTooLarge) {
		t.Errorf("Join with oversized meta: err = %v, want ErrMetaTooLarge", err)
	}
}

// TestPlanFailedAndLarge: a coordinator whose plan function refuses the
// swarm says so once (PlanFailed) and keeps no plan; once the swarm can
// be planned, a plan far larger than a UDP packet (200 KB) reaches every
// member.
func TestPlanFailedAndLarge(t *testing.T) {
	s := newSecret(t)
	filler := strings.Repeat("x", 200<<10)
	var fails sync.Map
	plan := func(ms []Member) ([]byte, error) {
		if len(ms) < 3 {
			return nil, errors.New("need 3 members")
		}
		ids := []string{filler}
		for _, m := range ms {
			ids = append(ids, m.ID)
		}
		return json.Marshal(ids)
	}
	var ms []*Membership
	for i := range 3 {
		cfg := testConfig(t, s)
		cfg.Plan = plan
		cfg.Events = func(e Event) {
			if e.Kind == PlanFailed {
				n, _ := fails.LoadOrStore(i, new(atomic.Int32))
				n.(*atomic.Int32).Add(1)
			}
		}
		if i > 0 {
			cfg.Join = []string{ms[0].Gossip()}
		}
		ms = append(ms, join(t, cfg))
		if i == 0 {
			eventually(t, 2*time.Second, "PlanFailed", func() bool { _, ok := fails.Load(0); return ok })
			if _, ok := ms[0].Plan(); ok {
				t.Error("a plan from a plan function that failed")
			}
		}
	}
	want := ids(ms)
	took := eventually(t, 5*time.Second, "a 200 KB plan reaches all three", func() bool {
		for _, m := range ms {
			a, ok := m.Plan()
			if !ok {
				return false
			}
			got := planIDs(t, a)
			if len(got) != 4 || got[0] != filler || !slices.Equal(got[1:], want) {
				return false
			}
		}
		return true
	})
	t.Logf("a 200 KB plan everywhere %v after the third joined", took.Round(time.Millisecond))
	fails.Range(func(k, v any) bool {
		if n := v.(*atomic.Int32).Load(); n != 1 {
			t.Errorf("member %v: %d PlanFailed events for one failure, want 1", k, n)
		}
		return true
	})
}
