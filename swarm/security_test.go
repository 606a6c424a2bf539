package swarm

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// rawDelegate is an outsider's memberlist delegate: fixed metadata.
type rawDelegate struct{ meta []byte }

func (d rawDelegate) NodeMeta(int) []byte             { return d.meta }
func (d rawDelegate) NotifyMsg([]byte)                {}
func (d rawDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (d rawDelegate) LocalState(bool) []byte          { return nil }
func (d rawDelegate) MergeRemoteState([]byte, bool)   {}

// rawNode starts a memberlist node on loopback as an attacker would: with
// the given gossip key (nil: none), named name, with the metadata meta
// makes for its gossip address. It is not a Membership: it follows none
// of its rules.
func rawNode(t *testing.T, key []byte, name string, meta func(gossip string) []byte) *memberlist.Memberlist {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	port := nt.GetAutoBindPort()
	c := memberlist.DefaultLocalConfig()
	c.Name = name
	c.Transport = nt
	c.BindAddr, c.BindPort, c.AdvertiseAddr, c.AdvertisePort = "127.0.0.1", port, "127.0.0.1", port
	c.Label = gossipLabel
	c.ProtocolVersion = memberlist.ProtocolVersionMax
	c.EnableCompression = false
	c.ProbeInterval, c.ProbeTimeout, c.GossipInterval = testProbe, testProbe/2, testProbe/5
	if key != nil {
		kr, err := memberlist.NewKeyring(nil, key)
		if err != nil {
			t.Fatal(err)
		}
		c.Keyring = kr
	}
	c.Delegate = rawDelegate{meta(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))}
	c.Logger = log.New(io.Discard, "", 0)
	ml, err := memberlist.Create(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ml.Shutdown() })
	return ml
}

// settle waits for ten probe intervals: long enough for gossip to reach
// every member on loopback many times over.
func settle() { time.Sleep(10 * testProbe) }

func memberIDs(m *Membership) []string {
	var out []string
	for _, mem := range m.Members() {
		out = append(out, mem.ID)
	}
	return out
}

// TestOutsiderCannotJoin: a node with another swarm secret, or with none,
// cannot join, is never listed, and is never given layers; a member
// cannot join an outsider either.
func TestOutsiderCannotJoin(t *testing.T) {
	s := newSecret(t)
	var p idPlan
	cfg := testConfig(t, s)
	cfg.Plan = p.plan
	a := join(t, cfg)

	var outsiderPlan idPlan
	other := testConfig(t, newSecret(t))
	other.Plan = outsiderPlan.plan
	other.Join = []string{a.Gossip()}
	_, err := Join(context.Background(), other)
	if !errors.Is(err, ErrJoin) {
		t.Fatalf("joining with another secret: err = %v, want ErrJoin", err)
	}
	t.Logf("another secret: %v", err)

	other.Join = nil
	outsider := join(t, other)
	c := testConfig(t, s)
	c.Join = []string{outsider.Gossip()}
	if _, err := Join(context.Background(), c); !errors.Is(err, ErrJoin) {
		t.Fatalf("a member joining an outsider: err = %v, want ErrJoin", err)
	}

	plain := newIdentity(t)
	raw := rawNode(t, nil, plain.ID(), func(g string) []byte {
		b, err := encodeMeta(plain, g, signedMeta{Meta: Meta{Backend: "cpu"}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
	if n, err := raw.Join([]string{a.Gossip()}); n != 0 || err == nil {
		t.Fatalf("a node without encryption joined: %d, %v", n, err)
	}

	settle()
	if got := memberIDs(a); !slices.Equal(got, []string{a.ID()}) {
		t.Errorf("members %v, want only %s", got, a.ID())
	}
	for _, id := range []string{outsider.ID(), plain.ID(), c.Identity.ID()} {
		if p.saw(id) {
			t.Errorf("outsider %s was planned with the swarm", id)
		}
	}
	if outsiderPlan.saw(a.ID()) || outsiderPlan.saw(c.Identity.ID()) {
		t.Error("the outsider planned with a member of the swarm")
	}
	if plan, ok := a.Plan(); !ok || !slices.Equal(planIDs(t, plan), []string{a.ID()}) {
		t.Errorf("plan %q, want only %s", plan.Plan, a.ID())
	}
	if got := memberIDs(outsider); !slices.Equal(got, []string{outsider.ID()}) {
		t.Errorf("the outsider sees members %v", got)
	}
}

// TestGossipIsEncrypted: what a member sends when it joins (its state,
// with its metadata) is captured by a listener posing as a seed: no
// byte of the metadata is in it in the clear, the key derived from the
// secret decrypts it (so this is the real state), and the secret itself
// does not.
func TestGossipIsEncrypted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	captured := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			captured <- nil
			return
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		var buf bytes.Buffer
		// [label header][type][size uint32][size bytes]
		head := make([]byte, 2)
		if _, err := io.ReadFull(conn, head); err != nil {
			captured <- nil
			return
		}
		rest := make([]byte, int(head[1])+5)
		io.ReadFull(conn, rest)
		buf.Write(head)
		buf.Write(rest)
		body := make([]byte, binary.BigEndian.Uint32(rest[len(rest)-4:]))
		io.ReadFull(conn, body)
		buf.Write(body)
		captured <- buf.Bytes()
	}()

	s := newSecret(t)
	cfg := testConfig(t, s)
	const device = "Secret GPU 9000 marker"
	cfg.Meta = Meta{Data: "10.11.12.13:7000", Backend: "vulkan", Device: device}
	cfg.Join = []string{ln.Addr().String()}
	if _, err := Join(context.Background(), cfg); !errors.Is(err, ErrJoin) {
		t.Errorf("joining a listener that answers nothing: err = %v, want ErrJoin", err)
	}
	b := <-captured
	if len(b) < 100 {
		t.Fatalf("captured %d bytes", len(b))
	}
	for _, clear := range []string{device, "10.11.12.13", cfg.Identity.ID(), s.String()} {
		if bytes.Contains(b, []byte(clear)) {
			t.Errorf("%q is in the gossip in the clear", clear)
		}
	}
	key, err := gossipKey(s)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := decryptStream(b, key)
	if err != nil {
		t.Fatalf("the derived key does not decrypt the gossip: %v", err)
	}
	if !bytes.Contains(plain, []byte(device)) || !bytes.Contains(plain, []byte(cfg.Identity.ID())) {
		t.Errorf("decrypted gossip has not the member's metadata: %q", plain)
	}
	if _, err := decryptStream(b, s[:]); err == nil {
		t.Error("the swarm secret itself decrypts the gossip")
	}
	t.Logf("captured %d bytes of a join; the derived key decrypts %d of state", len(b), len(plain))
}

// decryptStream decrypts one memberlist stream message: [label header]
// [encrypt type][size uint32][version][nonce 12][AES-GCM], the type,
// size and label authenticated.
func decryptStream(b, key []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 244 {
		return nil, errors.New("no label header")
	}
	label := b[2 : 2+int(b[1])]
	msg := b[2+int(b[1]):]
	if len(msg) < 5+1+12 || msg[5] != 1 {
		return nil, errors.New("not an encrypted message of version 1")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	aad := append(slices.Clone(msg[:5]), label...)
	return gcm.Open(nil, msg[6:18], msg[18:], aad)
}

// TestForgedIdentityRefused: a node that holds the secret but claims an
// identity it cannot sign for, or replays another member's signed
// metadata from its own address, is never a member, nor planned; the
// same node under its own identity is (so the refusals are the
// signature's doing).
func TestForgedIdentityRefused(t *testing.T) {
	s := newSecret(t)
	key, err := gossipKey(s)
	if err != nil {
		t.Fatal(err)
	}
	var p idPlan
	cfg := testConfig(t, s)
	cfg.Plan = p.plan
	a := join(t, cfg)

	// A genuine member's signed metadata, from before it stopped.
	victimCfg := testConfig(t, s)
	victim := join(t, victimCfg)
	victim.mu.Lock()
	victimMeta := slices.Clone(victim.meta)
	victim.mu.Unlock()
	victim.Close()

	attacker := newIdentity(t)
	body, _ := json.Marshal(Meta{Backend: "cpu", MemoryBytes: 1 << 40})
	forged := func(g string) []byte {
		return append(append(attacker.Sign(signedMessage(victim.ID(), g, flagCoordinator, body)), flagCoordinator), body...)
	}
	rawNode(t, key, victim.ID(), forged).Join([]string{a.Gossip()})
	other := newIdentity(t) // an identity never seen, claimed by the attacker
	forgedOther := func(g string) []byte {
		return append(append(attacker.Sign(signedMessage(other.ID(), g, 0, body)), 0), body...)
	}
	rawNode(t, key, other.ID(), forgedOther).Join([]string{a.Gossip()})
	third := newIdentity(t)
	rawNode(t, key, third.ID(), func(string) []byte { return victimMeta }).Join([]string{a.Gossip()})

	honest := func(g string) []byte {
		b, err := encodeMeta(attacker, g, signedMeta{Meta: Meta{Backend: "cpu"}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rawNode(t, key, attacker.ID(), honest).Join([]string{a.Gossip()})
	eventually(t, 2*time.Second, "the attacker under its own identity is a member", func() bool {
		return slices.Contains(memberIDs(a), attacker.ID())
	})
	settle()
	got := memberIDs(a)
	for _, id := range []string{victim.ID(), other.ID(), third.ID()} {
		if slices.Contains(got, id) {
			t.Errorf("forged member %s admitted", id)
		}
		if p.saw(id) {
			t.Errorf("forged member %s planned", id)
		}
	}
	if slices.Contains(got, victim.ID()) {
		t.Errorf("the victim's identity is a member again: %v", got)
	}
	// A replay of the victim's metadata under the victim's name from
	// another address.
	rawNode(t, key, victim.ID(), func(string) []byte { return victimMeta }).Join([]string{a.Gossip()})
	settle()
	if slices.Contains(memberIDs(a), victim.ID()) {
		t.Error("the victim's metadata replayed from another address was admitted")
	}
	if plan, _ := a.Plan(); slices.Contains(planIDs(t, plan), victim.ID()) {
		t.Errorf("plan %s names the victim after it died", plan.Plan)
	}
}

// TestForgedPlanRefused: a plan is accepted only as its coordinator
// signed it.
func TestForgedPlanRefused(t *testing.T) {
	coordinator, mallory := newIdentity(t), newIdentity(t)
	a := Assignment{Version: 7, Coordinator: coordinator.ID(), Plan: []byte(`["x"]`)}
	wire, err := encodeAssignment(coordinator, a)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeAssignment(wire); err != nil || got.Version != 7 || !bytes.Equal(got.Plan, a.Plan) {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	resign := func(f func(*assignmentWire)) []byte {
		var w assignmentWire
		json.Unmarshal(wire[1:], &w)
		f(&w)
		b, _ := json.Marshal(w)
		return append([]byte{msgPlan}, b...)
	}
	tests := []struct {
		name string
		wire []byte
	}{
		{"version raised", resign(func(w *assignmentWire) { w.Version = 8 })},
		{"plan changed", resign(func(w *assignmentWire) { w.Plan = []byte(`["y"]`) })},
		{"another coordinator named", resign(func(w *assignmentWire) { w.Coordinator = mallory.ID() })},
		{"signed by another", resign(func(w *assignmentWire) {
			w.Signature = mallory.Sign(planMessage(Assignment{w.Version, w.Coordinator, w.Plan}))
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeAssignment(tt.wire); !errors.Is(err, ErrForged) {
				t.Errorf("err = %v, want ErrForged", err)
			}
		})
	}
}
