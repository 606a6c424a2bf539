package swarm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"

	"github.com/hashicorp/memberlist"

	"strata/transport"
)

// Meta is what a member tells the swarm about itself. It travels in
// memberlist's node metadata, signed (see Membership), so it is small:
// with its signature it must fit memberlist.MetaMaxSize (512 bytes).
// The speed and memory fields are the planner's Peer fields.
type Meta struct {
	// Data is the QUIC address (host:port) where the member serves
	// fragments; empty for a member that serves none (a client).
	Data string `json:"data,omitempty"`
	// Backend and Device name what computes: "cpu" or "vulkan", and the
	// device's name.
	Backend string `json:"backend,omitempty"`
	Device  string `json:"device,omitempty"`
	// Measured seconds per token at decode: one layer, the output head,
	// the embedding lookup, and one network hop.
	LayerSeconds float64 `json:"layer_s,omitempty"`
	HeadSeconds  float64 `json:"head_s,omitempty"`
	EmbedSeconds float64 `json:"embed_s,omitempty"`
	HopSeconds   float64 `json:"hop_s,omitempty"`
	// MemoryBytes is the memory free for weights and KV cache.
	MemoryBytes int64 `json:"mem,omitempty"`
	// Model is the sha256 (64 hex digits) of the model file the member
	// holds; empty for none.
	Model string `json:"model,omitempty"`
	// Start and End are the layer range [Start, End) it serves now;
	// equal when it serves none.
	Start int `json:"start,omitempty"`
	End   int `json:"end,omitempty"`
	// PlanVersion is the version of the plan it serves.
	PlanVersion uint64 `json:"plan,omitempty"`
}

// ErrMetaTooLarge reports a Meta whose signed encoding passes
// memberlist's metadata limit.
var ErrMetaTooLarge = errors.New("swarm: metadata too large")

// Validate refuses a Meta that no planner could use.
func (m Meta) Validate() error {
	if m.Data != "" {
		if _, port, err := net.SplitHostPort(m.Data); err != nil {
			return fmt.Errorf("swarm: meta: data address %q: %w", m.Data, err)
		} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("swarm: meta: data address %q: port is not 1 to 65535", m.Data)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"layer seconds", m.LayerSeconds}, {"head seconds", m.HeadSeconds}, {"embed seconds", m.EmbedSeconds}, {"hop seconds", m.HopSeconds}} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("swarm: meta: %s %v is not a duration", f.name, f.v)
		}
	}
	if m.MemoryBytes < 0 {
		return fmt.Errorf("swarm: meta: memory %d bytes is negative", m.MemoryBytes)
	}
	if m.Model != "" && !isSHA256(m.Model) {
		return fmt.Errorf("swarm: meta: model %q is not a sha256 in hex", m.Model)
	}
	if m.Start < 0 || m.End < m.Start {
		return fmt.Errorf("swarm: meta: layer range [%d, %d) is not a range", m.Start, m.End)
	}
	return nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// metaLabel begins what a member signs of its metadata.
const metaLabel = "strata swarm meta v1\x00"

// Flags of the signed metadata.
const (
	flagCoordinator byte = 1 << iota
	flagLeaving
)

// signedMeta is the wire form of a member's metadata, as memberlist
// carries it: a 64-byte Ed25519 signature, a flags byte, and the Meta in
// JSON. The signature covers the label, the node's name (its identity),
// its gossip address, the flags and the JSON: a member cannot pass its
// metadata off under another identity, nor replay another member's from
// an address of its own.
type signedMeta struct {
	Meta        Meta
	Coordinator bool // it runs a plan function and may coordinate
	Leaving     bool // it is leaving: memberlist does not tell a leave from a failure
}

const signatureSize = 64

func signedMessage(name, gossip string, flags byte, body []byte) []byte {
	b := make([]byte, 0, len(metaLabel)+len(name)+len(gossip)+3+len(body))
	b = append(b, metaLabel...)
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, gossip...)
	b = append(b, 0, flags)
	return append(b, body...)
}

// encodeMeta signs m as id, gossiping at gossip (host:port), and refuses
// an encoding past memberlist's limit with both sizes.
func encodeMeta(id *transport.Identity, gossip string, m signedMeta) ([]byte, error) {
	if err := m.Meta.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(m.Meta)
	if err != nil {
		return nil, fmt.Errorf("swarm: meta: %w", err)
	}
	var flags byte
	if m.Coordinator {
		flags |= flagCoordinator
	}
	if m.Leaving {
		flags |= flagLeaving
	}
	sig := id.Sign(signedMessage(id.ID(), gossip, flags, body))
	b := make([]byte, 0, signatureSize+1+len(body))
	b = append(b, sig...)
	b = append(b, flags)
	b = append(b, body...)
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: %d bytes signed, memberlist carries at most %d (the JSON is %d; shorten the device name)",
			ErrMetaTooLarge, len(b), memberlist.MetaMaxSize, len(body))
	}
	return b, nil
}

// decodeMeta checks that b is metadata signed by the identity name for a
// node gossiping at gossip, and decodes it.
func decodeMeta(name, gossip string, b []byte) (signedMeta, error) {
	if len(b) < signatureSize+1 {
		return signedMeta{}, fmt.Errorf("swarm: member %s: metadata of %d bytes is not signed", name, len(b))
	}
	sig, flags, body := b[:signatureSize], b[signatureSize], b[signatureSize+1:]
	if !transport.VerifyID(name, signedMessage(name, gossip, flags, body), sig) {
		return signedMeta{}, fmt.Errorf("swarm: member %s at %s: %w", name, gossip, ErrForged)
	}
	var m signedMeta
	if err := json.Unmarshal(body, &m.Meta); err != nil {
		return signedMeta{}, fmt.Errorf("swarm: member %s: metadata: %w", name, err)
	}
	if err := m.Meta.Validate(); err != nil {
		return signedMeta{}, fmt.Errorf("swarm: member %s: %w", name, err)
	}
	m.Coordinator = flags&flagCoordinator != 0
	m.Leaving = flags&flagLeaving != 0
	return m, nil
}

// ErrForged reports gossip not signed by the identity it names: a member
// that claims another's identity, or replays another's metadata. Its
// text has no package prefix: it is always wrapped by one naming the
// member or the plan.
var ErrForged = errors.New("not signed by the identity it names (forged, or replayed from another address)")
