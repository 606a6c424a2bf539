package swarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// A Member is one node of the swarm as its gossip describes it.
type Member struct {
	ID     string // its identity (transport.Identity.ID), its name
	Gossip string // its gossip address, host:port
	Meta   Meta
	// Coordinator is whether it runs a plan function, and so may
	// coordinate.
	Coordinator bool
}

// ErrJoin reports that no seed let this node in.
var ErrJoin = errors.New("swarm: no seed let this node in")

// ErrClosed reports a call on a member that was closed (or left).
var ErrClosed = errors.New("swarm: member closed")

// gossipLabel is memberlist's label on every packet and stream: gossip
// of another application is told apart before decryption.
const gossipLabel = "strata"

// Membership is this node's view of its swarm: membership and failure
// detection by hashicorp/memberlist (SWIM gossip, as in Consul and
// Serf), a coordinator chosen among the live members, and the plan it
// distributes.
//
// Security. Every gossip packet and stream is encrypted and
// authenticated with AES-256-GCM under a key derived from the swarm
// secret by HKDF-SHA256 with a label of its own (the key is not the
// secret), and memberlist refuses whatever is not (GossipVerifyIncoming
// and GossipVerifyOutgoing). So only holders of the secret can join, be
// listed, be given layers, or read what members say of themselves. A
// member's name is its identity, and its metadata is signed by that
// identity together with its gossip address: a holder of the secret
// cannot pass itself off as another member, nor replay another's
// metadata from an address of its own; plans are signed by their
// coordinator. What the secret's holders are trusted with: any of them
// can become the coordinator (the lowest ID coordinates), and
// memberlist's own state (incarnations, suspicion) is not signed, so a
// holder can disturb failure detection. The data path does not rest on
// the gossip: it stays on QUIC, where each connection proves the secret
// again and names the peer's identity, which a client can pin to the ID
// the plan names.
type Membership struct {
	cfg    Config
	id     string
	gossip string // advertised host:port
	ml     *memberlist.Memberlist
	log    *slog.Logger

	mu       sync.Mutex
	meta     []byte // signed, as NodeMeta returns it
	plan     Assignment
	planWire []byte
	planErr  string          // the last PlanFailed, reported once
	warned   map[string]bool // forged gossip already logged
	nodes    map[string]node // the live members, by ID
	events   *eventQueue     // nil without Config.Events
	changed  chan struct{}   // the swarm changed: plan again
	done     chan struct{}   // closed by Close
	wg       sync.WaitGroup  // the member's goroutines
	once     sync.Once
	disc     *discovery
}

// Join starts a member and joins the swarm through cfg.Join (and, with
// cfg.Discover, what mDNS finds). It returns once the member is in: with
// seeds, once one of them let it in; an error wrapping ErrJoin when none
// did (a seed that holds another secret closes the connection).
func Join(ctx context.Context, cfg Config) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := &Membership{
		cfg:     cfg,
		id:      cfg.Identity.ID(),
		log:     cfg.Logger,
		warned:  map[string]bool{},
		nodes:   map[string]node{},
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if cfg.Events != nil {
		m.events = newEventQueue()
	}
	if err := m.start(); err != nil {
		return nil, err
	}
	if len(cfg.Join) > 0 {
		if err := m.join(ctx, cfg.Join); err != nil {
			m.Close()
			return nil, err
		}
	}
	if cfg.Discover {
		d, err := m.startDiscovery()
		if err != nil {
			m.Close()
			return nil, err
		}
		m.mu.Lock()
		m.disc = d
		m.mu.Unlock()
	}
	m.log.Info("swarm: member up", "id", m.id, "gossip", m.gossip, "members", m.ml.NumMembers())
	return m, nil
}

// start binds the gossip port and starts memberlist and the member's
// goroutines.
func (m *Membership) start() error {
	cfg := m.cfg
	key, err := gossipKey(cfg.Swarm)
	if err != nil {
		return err
	}
	keyring, err := memberlist.NewKeyring(nil, key)
	if err != nil {
		return fmt.Errorf("swarm: keyring: %w", err)
	}
	mlLog := slog.NewLogLogger(m.log.With("component", "memberlist").Handler(), slog.LevelDebug)
	host, port, _ := net.SplitHostPort(cfg.Bind)
	bindPort, _ := parsePort(port, true)
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: bindPort, Logger: mlLog})
	if err != nil {
		return fmt.Errorf("swarm: gossip on %s: %w", cfg.Bind, err)
	}
	advHost, advPort := "", 0
	if cfg.Advertise != "" {
		advHost, advPort, _ = splitAdvertise(cfg.Advertise)
		if advPort == 0 {
			advPort = nt.GetAutoBindPort()
		}
	}
	ip, p, err := nt.FinalAdvertiseAddr(advHost, advPort)
	if err != nil {
		nt.Shutdown()
		return fmt.Errorf("swarm: advertise address: %w", err)
	}
	m.gossip = net.JoinHostPort(ip.String(), strconv.Itoa(p))
	meta, err := encodeMeta(cfg.Identity, m.gossip, signedMeta{Meta: cfg.Meta, Coordinator: cfg.Plan != nil})
	if err != nil {
		nt.Shutdown()
		return err
	}
	m.meta = meta

	c := memberlist.DefaultLANConfig()
	c.Name = m.id
	c.Transport = nt
	c.BindAddr, c.BindPort = host, nt.GetAutoBindPort()
	c.AdvertiseAddr, c.AdvertisePort = ip.String(), p
	c.Label = gossipLabel
	c.Keyring = keyring
	c.GossipVerifyIncoming = true
	c.GossipVerifyOutgoing = true
	// Compression before encryption would let a packet's length tell of
	// its content; the gossip is small.
	c.EnableCompression = false
	// Version 3 and up encrypt without padding (AES-GCM, version 1).
	c.ProtocolVersion = memberlist.ProtocolVersionMax
	pi := cfg.ProbeInterval
	c.ProbeInterval = pi
	c.ProbeTimeout = pi / 2
	c.GossipInterval = pi / 5
	c.PushPullInterval = 10 * pi
	c.GossipToTheDeadTime = 10 * pi
	c.TCPTimeout = max(10*pi, time.Second)
	// A suspect is declared dead after SuspicionMult·log10(members)
	// intervals once another member confirms the suspicion, and at most
	// SuspicionMaxTimeoutMult times that without: memberlist's LAN
	// values wait for two confirmations, up to 6 times as long; these
	// are its local network's suspicion (3, one confirmation) with a
	// shorter longest wait. A live member under load still has over a
	// second to refute a suspicion.
	c.SuspicionMult = 3
	c.SuspicionMaxTimeoutMult = 2
	// A member's identity is proven by its signature, so one that
	// restarts at another address may take its name back once declared
	// dead.
	c.DeadNodeReclaimTime = pi
	d := &delegate{m}
	c.Delegate, c.Events, c.Alive = d, d, d
	c.Logger = mlLog

	ml, err := memberlist.Create(c)
	if err != nil {
		nt.Shutdown()
		return fmt.Errorf("swarm: memberlist: %w", err)
	}
	m.ml = ml
	if m.events != nil {
		m.wg.Go(func() { m.events.run(cfg.Events, m.done) })
	}
	if cfg.Plan != nil {
		m.wg.Go(m.coordinate)
		m.signal()
	}
	return nil
}

// join joins through the seeds, waiting at most until ctx is done.
func (m *Membership) join(ctx context.Context, seeds []string) error {
	type result struct {
		n   int
		err error
	}
	r := make(chan result, 1)
	go func() {
		n, err := m.ml.Join(seeds)
		r <- result{n, err}
	}()
	select {
	case <-ctx.Done():
		return fmt.Errorf("swarm: join %v: %w", seeds, ctx.Err())
	case res := <-r:
		if res.n == 0 {
			return fmt.Errorf("%w (another swarm secret, or not running?): %s", ErrJoin, oneLine(res.err))
		}
		return nil
	}
}

// oneLine is memberlist's error for a join, which lists each seed's
// failure on lines of its own, on one line.
func oneLine(err error) string {
	var list interface{ WrappedErrors() []error }
	if !errors.As(err, &list) {
		return fmt.Sprint(err)
	}
	parts := make([]string, 0, len(list.WrappedErrors()))
	for _, e := range list.WrappedErrors() {
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}

// ID is the member's identity, its name in the swarm.
func (m *Membership) ID() string { return m.id }

// Gossip is the member's advertised gossip address, host:port, for
// others' --join.
func (m *Membership) Gossip() string { return m.gossip }

// Members is the swarm's live members (suspects included, those that
// said they are leaving not) as this node sees them, sorted by ID, this
// node among them.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	out := make([]Member, 0, len(m.nodes))
	for _, n := range m.nodes {
		if !n.leaving {
			out = append(out, n.member)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return cmpString(a.ID, b.ID) })
	return out
}

// A node is a member as memberlist last told of it. memberlist's
// Members returns pointers into its own state, which it changes under
// its lock; the copies its event delegate gets are safe to keep.
type node struct {
	ml      memberlist.Node
	member  Member
	leaving bool
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func nodeGossip(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

func memberOf(n *memberlist.Node) (Member, error) {
	m, _, err := memberLeaving(n)
	return m, err
}

// memberLeaving is the member n is, and whether it said it is leaving.
func memberLeaving(n *memberlist.Node) (Member, bool, error) {
	g := nodeGossip(n)
	s, err := decodeMeta(n.Name, g, n.Meta)
	if err != nil {
		return Member{}, false, err
	}
	return Member{ID: n.Name, Gossip: g, Meta: s.Meta, Coordinator: s.Coordinator}, s.Leaving, nil
}

// Coordinator is the ID of the member that coordinates, as this node
// sees the swarm: the lowest ID among the live members with a plan
// function; empty when there is none.
func (m *Membership) Coordinator() string { return coordinatorOf(m.Members()) }

func coordinatorOf(members []Member) string {
	for _, mem := range members { // sorted by ID
		if mem.Coordinator {
			return mem.ID
		}
	}
	return ""
}

// Plan is the newest plan this node has, and whether it has one.
func (m *Membership) Plan() (Assignment, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.plan
	a.Plan = slices.Clone(a.Plan)
	return a, a.Coordinator != ""
}

func (m *Membership) closed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// UpdateMeta changes what the member tells the swarm about itself, and
// waits until the change has been gossiped once (or ctx is done). A
// Meta whose signed encoding passes memberlist's 512 bytes is refused
// with ErrMetaTooLarge, and nothing changes.
func (m *Membership) UpdateMeta(ctx context.Context, meta Meta) error {
	return m.updateMeta(ctx, signedMeta{Meta: meta, Coordinator: m.cfg.Plan != nil}, m.cfg.ProbeInterval*10)
}

func (m *Membership) updateMeta(ctx context.Context, s signedMeta, timeout time.Duration) error {
	if m.closed() {
		return ErrClosed
	}
	b, err := encodeMeta(m.cfg.Identity, m.gossip, s)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.meta = b
	m.cfg.Meta = s.Meta
	m.mu.Unlock()
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	r := make(chan error, 1)
	go func() { r <- m.ml.UpdateNode(timeout) }()
	select {
	case <-ctx.Done():
		return fmt.Errorf("swarm: update meta: %w", ctx.Err())
	case err := <-r:
		if err != nil {
			return fmt.Errorf("swarm: update meta: %w", err)
		}
		return nil
	}
}

// Leave tells the swarm this member leaves, waiting at most until ctx is
// done for the word to go out, then closes it. The others see it leave
// at once (MemberLeft) rather than fail after a timeout.
func (m *Membership) Leave(ctx context.Context) error {
	if m.closed() {
		return ErrClosed
	}
	timeout := m.cfg.ProbeInterval * 5
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	// memberlist tells the others of a leave as of a death; the flag in
	// the metadata, gossiped first, tells them which it is.
	m.mu.Lock()
	s := signedMeta{Meta: m.cfg.Meta, Coordinator: m.cfg.Plan != nil, Leaving: true}
	m.mu.Unlock()
	if err := m.updateMeta(ctx, s, timeout/2); err != nil {
		m.log.Debug("swarm: leaving without a word", "err", err)
	}
	err := m.ml.Leave(timeout / 2)
	m.Close()
	if err != nil {
		return fmt.Errorf("swarm: leave: %w", err)
	}
	return nil
}

// Close stops the member without a word to the swarm, which sees it
// fail. It is safe to call more than once.
func (m *Membership) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		m.mu.Lock()
		d := m.disc
		m.mu.Unlock()
		if d != nil {
			d.stop()
		}
		if e := m.ml.Shutdown(); e != nil {
			err = fmt.Errorf("swarm: close: %w", e)
		}
		m.wg.Wait()
	})
	return err
}

// signal tells the coordinator loop the swarm changed.
func (m *Membership) signal() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *Membership) emit(e Event) {
	if m.events != nil {
		m.events.push(e)
	}
}
