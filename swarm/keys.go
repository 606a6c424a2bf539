package swarm

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"strata/transport"
)

// Labels of what is derived from the swarm secret. Each use has its own,
// so that no derived value is another, nor the secret itself.
const (
	gossipKeyLabel    = "strata swarm gossip key v1"
	discoveryTagLabel = "strata swarm discovery tag v1"
)

// gossipKey is the AES-256-GCM key of the swarm's gossip: HKDF-SHA256 of
// the swarm secret, labelled. Whoever reads it out of a node's memory
// learns the gossip key, not the secret that authenticates the data path.
func gossipKey(s transport.Swarm) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, s[:], nil, gossipKeyLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("swarm: gossip key: %w", err)
	}
	return k, nil
}

// discoveryTag names the swarm in mDNS announcements: 16 hex digits of
// an HMAC-SHA256 keyed by the secret over a fixed label. It tells a
// browser which announcements are of its swarm; it tells an eavesdropper
// only that two announcements are of the same swarm.
func discoveryTag(s transport.Swarm) string {
	m := hmac.New(sha256.New, s[:])
	m.Write([]byte(discoveryTagLabel))
	return hex.EncodeToString(m.Sum(nil)[:8])
}
