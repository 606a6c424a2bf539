package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"
)

// An Identity is a node's Ed25519 key pair. Its ID is how others name
// and pin it.
type Identity struct {
	key  ed25519.PrivateKey
	cert tls.Certificate
}

// NewIdentity makes a fresh identity.
func NewIdentity() (*Identity, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	return identityFrom(key)
}

// LoadIdentity reads an identity from a PEM file, creating the file with
// a new identity when it does not exist.
func LoadIdentity(path string) (*Identity, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		id, err := NewIdentity()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(id.key)
		if err != nil {
			return nil, fmt.Errorf("transport: %w", err)
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("transport: %w", err)
		}
		return id, nil
	}
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("transport: identity %s is not a PEM file", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("transport: identity %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("transport: identity %s is not an Ed25519 key", path)
	}
	return identityFrom(key)
}

func identityFrom(key ed25519.PrivateKey) (*Identity, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	return &Identity{key: key, cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}, nil
}

// ID is the identity's public key in lowercase base32, its name.
func (id *Identity) ID() string { return keyID(id.key.Public().(ed25519.PublicKey)) }

func (id *Identity) public() ed25519.PublicKey { return id.key.Public().(ed25519.PublicKey) }

// Sign signs msg with the identity's Ed25519 key. The same key signs the
// node's TLS handshakes, so callers begin msg with a label of their own
// (as swarm does), which no TLS or certificate message can begin with.
func (id *Identity) Sign(msg []byte) []byte { return ed25519.Sign(id.key, msg) }

// VerifyID reports whether sig is a signature of msg by the identity
// whose ID is id. An id that is not one (not base32 of an Ed25519 key)
// verifies nothing.
func VerifyID(id string, msg, sig []byte) bool {
	k, err := idEncoding.DecodeString(strings.ToUpper(id))
	if err != nil || len(k) != ed25519.PublicKeySize || keyID(k) != id {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(k), msg, sig)
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func keyID(k ed25519.PublicKey) string { return strings.ToLower(idEncoding.EncodeToString(k)) }

// A Swarm is the secret every member of a swarm holds. It never crosses
// the wire: peers prove they hold it.
type Swarm [32]byte

// NewSwarm makes a fresh random secret.
func NewSwarm() (Swarm, error) {
	var s Swarm
	if _, err := rand.Read(s[:]); err != nil {
		return s, fmt.Errorf("transport: %w", err)
	}
	return s, nil
}

// String is the secret in hex, as swarm files hold it.
func (s Swarm) String() string { return hex.EncodeToString(s[:]) }

// ParseSwarm reads a secret written by String.
func ParseSwarm(text string) (Swarm, error) {
	var s Swarm
	b, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil || len(b) != len(s) {
		return s, errors.New("transport: a swarm secret is 64 hex digits")
	}
	copy(s[:], b)
	return s, nil
}

// LoadSwarm reads a swarm file.
func LoadSwarm(path string) (Swarm, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Swarm{}, fmt.Errorf("transport: swarm file: %w", err)
	}
	s, err := ParseSwarm(string(b))
	if err != nil {
		return s, fmt.Errorf("transport: swarm file %s: %w", path, err)
	}
	return s, nil
}
