package swarm

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"strata/transport"
)

// TestMetaFits: the largest metadata a real member sends (an IPv6 data
// address, a long device name, every field at its widest) fits
// memberlist's 512 bytes with its signature, and reads back as it was.
func TestMetaFits(t *testing.T) {
	id := newIdentity(t)
	m := Meta{
		Data:         "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
		Backend:      "vulkan",
		Device:       "NVIDIA GeForce RTX 4090 Laptop GPU (AMD Radeon 780M Graphics)",
		LayerSeconds: 1.2345678901234567e-05, HeadSeconds: 0.00012345678901234567,
		EmbedSeconds: 1.2345678901234567e-07, HopSeconds: 0.0012345678901234567,
		MemoryBytes: math.MaxInt64, Model: strings.Repeat("ab", 32),
		Start: 123456, End: 654321, PlanVersion: math.MaxUint64,
	}
	gossip := "[2001:db8::1]:7946"
	b, err := encodeMeta(id, gossip, signedMeta{Meta: m, Coordinator: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("widest metadata: %d of %d bytes", len(b), memberlist.MetaMaxSize)
	got, err := decodeMeta(id.ID(), gossip, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta != m || !got.Coordinator || got.Leaving {
		t.Errorf("decoded %+v, want %+v", got, m)
	}
}

// TestMetaSignature: metadata reads only under the identity that signed
// it, for the address it was signed for, unaltered.
func TestMetaSignature(t *testing.T) {
	id, other := newIdentity(t), newIdentity(t)
	b, err := encodeMeta(id, "127.0.0.1:7946", signedMeta{Meta: Meta{Backend: "cpu", End: 4}})
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(b)
	flipped[len(flipped)-3] ^= 1
	flag := bytes.Clone(b)
	flag[signatureSize] |= flagCoordinator
	tests := []struct {
		name, id, gossip string
		b                []byte
	}{
		{"another identity", other.ID(), "127.0.0.1:7946", b},
		{"another address", id.ID(), "127.0.0.1:7947", b},
		{"altered", id.ID(), "127.0.0.1:7946", flipped},
		{"coordinator flag set", id.ID(), "127.0.0.1:7946", flag},
		{"unsigned", id.ID(), "127.0.0.1:7946", []byte(`{"backend":"cpu"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeMeta(tt.id, tt.gossip, tt.b); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := decodeMeta(id.ID(), "127.0.0.1:7946", b); err != nil {
		t.Errorf("the genuine metadata: %v", err)
	}
}

func TestMetaValidate(t *testing.T) {
	tests := []struct {
		name string
		m    Meta
		want string // in the error; "" for valid
	}{
		{"zero", Meta{}, ""},
		{"full", Meta{Data: "10.0.0.1:7000", LayerSeconds: 0.01, MemoryBytes: 1 << 30, Model: strings.Repeat("0f", 32), Start: 2, End: 9}, ""},
		{"data without port", Meta{Data: "10.0.0.1"}, "data address"},
		{"data port 0", Meta{Data: "10.0.0.1:0"}, "port"},
		{"negative layer seconds", Meta{LayerSeconds: -1}, "layer seconds"},
		{"NaN hop seconds", Meta{HopSeconds: math.NaN()}, "hop seconds"},
		{"infinite head seconds", Meta{HeadSeconds: math.Inf(1)}, "head seconds"},
		{"negative memory", Meta{MemoryBytes: -1}, "memory"},
		{"model not a hash", Meta{Model: "mistral"}, "sha256"},
		{"model upper-case", Meta{Model: strings.Repeat("0F", 32)}, "sha256"},
		{"range backwards", Meta{Start: 5, End: 4}, "range"},
		{"range negative", Meta{Start: -1, End: 4}, "range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	id := newIdentity(t)
	s := newSecret(t)
	ok := Config{Identity: id, Swarm: s}
	tests := []struct {
		name string
		edit func(*Config)
		want string // in the error; "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"everything", func(c *Config) {
			c.Bind, c.Advertise, c.Join = "0.0.0.0:7946", "192.168.1.5", []string{"host.lan:7946", "[::1]:7946"}
			c.Discover, c.DiscoverInterface, c.ProbeInterval, c.Debounce = true, "eth0", 200*time.Millisecond, time.Second
		}, ""},
		{"no identity", func(c *Config) { c.Identity = nil }, "identity"},
		{"no secret", func(c *Config) { c.Swarm = transport.Swarm{} }, "secret"},
		{"bind without port", func(c *Config) { c.Bind = "127.0.0.1" }, "bind"},
		{"bind to a name", func(c *Config) { c.Bind = "localhost:0" }, "not an IP"},
		{"bind port too high", func(c *Config) { c.Bind = "127.0.0.1:65536" }, "port"},
		{"advertise a name", func(c *Config) { c.Advertise = "example.com:7946" }, "advertise"},
		{"advertise port 0", func(c *Config) { c.Advertise = "10.0.0.1:0" }, "advertise"},
		{"join without port", func(c *Config) { c.Join = []string{"10.0.0.1"} }, "join address"},
		{"join port 0", func(c *Config) { c.Join = []string{"10.0.0.1:0"} }, "join address"},
		{"join no host", func(c *Config) { c.Join = []string{":7946"} }, "no host"},
		{"interface without discovery", func(c *Config) { c.DiscoverInterface = "eth0" }, "without discovery"},
		{"probe too fast", func(c *Config) { c.ProbeInterval = time.Millisecond }, "probe interval"},
		{"negative debounce", func(c *Config) { c.Debounce = -1 }, "debounce"},
		{"bad meta", func(c *Config) { c.Meta.MemoryBytes = -5 }, "memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Join(t.Context(), Config{}); err == nil || !strings.Contains(err.Error(), "identity") {
		t.Errorf("Join(zero Config) = %v, want the missing identity", err)
	}
}

// TestDerivedKeys: the gossip key and the discovery tag are neither the
// secret nor each other, differ between swarms, and are the same for
// the same swarm.
func TestDerivedKeys(t *testing.T) {
	s1, s2 := newSecret(t), newSecret(t)
	k1, err := gossipKey(s1)
	if err != nil {
		t.Fatal(err)
	}
	k1again, _ := gossipKey(s1)
	k2, _ := gossipKey(s2)
	if len(k1) != 32 || !bytes.Equal(k1, k1again) || bytes.Equal(k1, k2) || bytes.Equal(k1, s1[:]) {
		t.Errorf("gossip keys: %x, again %x, other swarm %x, secret %x", k1, k1again, k2, s1[:])
	}
	tag := discoveryTag(s1)
	if len(tag) != 16 || tag != discoveryTag(s1) || tag == discoveryTag(s2) ||
		strings.Contains(s1.String(), tag) || strings.Contains(fmt.Sprintf("%x", k1), tag) {
		t.Errorf("discovery tag %q (secret %s, key %x)", tag, s1, k1)
	}
}
