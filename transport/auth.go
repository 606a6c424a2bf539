package transport

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/quic-go/quic-go"
)

// ALPN names the protocol and its version.
const ALPN = "strata/1"

// ErrUnauthenticated reports a peer that did not prove the swarm secret,
// or whose identity is not one the caller accepts. Its text has no
// package prefix: it is always wrapped by one naming the peer.
var ErrUnauthenticated = errors.New("peer not authenticated")

// ErrRefused reports a peer that closed the connection on this node's
// proof of the swarm secret: the two hold different secrets, most
// likely. It is an ErrUnauthenticated.
var ErrRefused error = authError("the peer refused this node: wrong swarm secret?")

// authError is an ErrUnauthenticated with a text of its own.
type authError string

func (e authError) Error() string        { return string(e) }
func (e authError) Is(target error) bool { return target == ErrUnauthenticated }

// refusedCode is the application error code a node closes a connection
// with when authentication fails.
const refusedCode = 1

// authTimeout bounds the authentication exchange.
const authTimeout = 5 * time.Second

// tlsConfig makes the TLS configuration of a node. Certificates are
// self-signed Ed25519: who a peer is comes from its key, and whether to
// trust it from the swarm proof and the pins, not from a CA.
func tlsConfig(id *Identity, server bool) *tls.Config {
	c := &tls.Config{
		Certificates: []tls.Certificate{id.cert},
		NextProtos:   []string{ALPN},
		MinVersion:   tls.VersionTLS13,
		// The chain is checked below: one self-signed Ed25519 certificate.
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: verifySelfSigned,
	}
	if server {
		c.ClientAuth = tls.RequireAnyClientCert
	}
	return c
}

func verifySelfSigned(raw [][]byte, _ [][]*x509.Certificate) error {
	if len(raw) != 1 {
		return fmt.Errorf("%w: %d certificates, want one", ErrUnauthenticated, len(raw))
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if _, ok := cert.PublicKey.(ed25519.PublicKey); !ok {
		return fmt.Errorf("%w: not an Ed25519 key", ErrUnauthenticated)
	}
	return cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature)
}

// peerKey returns the Ed25519 key the peer's TLS handshake proved.
func peerKey(conn *quic.Conn) (ed25519.PublicKey, error) {
	certs := conn.ConnectionState().TLS.PeerCertificates
	if len(certs) != 1 {
		return nil, fmt.Errorf("%w: no certificate", ErrUnauthenticated)
	}
	k, ok := certs[0].PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an Ed25519 key", ErrUnauthenticated)
	}
	return k, nil
}

// proof is HMAC-SHA256 keyed by the swarm secret over keying material
// exported from this TLS session, the prover's role and both keys. It
// binds the secret to this connection: seeing it teaches nothing, and it
// is worth nothing on another connection.
func proof(s Swarm, conn *quic.Conn, server bool, own, peer ed25519.PublicKey) ([]byte, error) {
	state := conn.ConnectionState().TLS
	ekm, err := state.ExportKeyingMaterial("strata swarm proof", nil, 32)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	m := hmac.New(sha256.New, s[:])
	m.Write(ekm)
	if server {
		m.Write([]byte{1})
	} else {
		m.Write([]byte{0})
	}
	m.Write(own)
	m.Write(peer)
	return m.Sum(nil), nil
}

// authenticate runs the proof exchange on the connection's first stream:
// the client proves first, the server answers only a valid proof.
func authenticate(ctx context.Context, conn *quic.Conn, id *Identity, s Swarm, server bool) (ed25519.PublicKey, error) {
	peer, err := peerKey(conn)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	var stream *quic.Stream
	if server {
		stream, err = conn.AcceptStream(ctx)
	} else {
		stream, err = conn.OpenStreamSync(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	defer stream.Close()
	stream.SetDeadline(time.Now().Add(authTimeout))
	mine, err := proof(s, conn, server, id.public(), peer)
	if err != nil {
		return nil, err
	}
	theirsWant, err := proof(s, conn, !server, peer, id.public())
	if err != nil {
		return nil, err
	}
	check := func() error {
		t, theirs, err := ReadFrame(stream, nil, 64)
		if err != nil {
			// A server that refuses the client's proof closes the stream
			// and the connection without an answer.
			var app *quic.ApplicationError
			if !server && (errors.Is(err, io.EOF) || errors.As(err, &app) && app.Remote && app.ErrorCode == refusedCode) {
				return ErrRefused
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: the peer closed the connection", ErrUnauthenticated)
			}
			return fmt.Errorf("%w: %v", ErrUnauthenticated, err)
		}
		if t != FrameAuth || !hmac.Equal(theirs, theirsWant) {
			return fmt.Errorf("%w: wrong swarm secret", ErrUnauthenticated)
		}
		return nil
	}
	if server {
		if err := check(); err != nil {
			return nil, err
		}
		return peer, WriteFrame(stream, FrameAuth, mine)
	}
	if err := WriteFrame(stream, FrameAuth, mine); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	return peer, check()
}

// idleTimeout is how long a connection may hear nothing before it closes.
const idleTimeout = 2 * time.Second

// quicConfig detects a dead peer within two seconds: keep-alives every
// half second, and a connection idle for two seconds is closed.
func quicConfig() *quic.Config {
	return &quic.Config{
		MaxIdleTimeout:       idleTimeout,
		KeepAlivePeriod:      500 * time.Millisecond,
		HandshakeIdleTimeout: 5 * time.Second,
		MaxIncomingStreams:   64,
	}
}
