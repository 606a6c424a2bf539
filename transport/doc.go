// Package transport carries engine data between strata peers over QUIC.
//
// Every connection is TLS 1.3 (ALPN "strata/1") between two Ed25519
// identities, and is mutually authenticated before any model work: each
// side proves it holds the swarm's secret with an HMAC over keying
// material exported from that very TLS session, so the secret never
// crosses the wire and a proof cannot be replayed; a coordinator may also
// pin the identities it accepts.
//
// Each request is one QUIC stream of frames: a 12-byte header (type,
// length, CRC-32C) and a bounded payload. A malformed, oversized or
// corrupt frame ends its stream with an error and nothing else.
//
// A Server runs one fragment of a model for many sessions. A Route is a
// coordinator's chain of peers covering every layer; it implements
// engine.Stack, keeps what it sent each hop, and when a peer dies moves
// its layers to a replica and replays the session there with the same
// batches, so generation continues exactly as it would have.
package transport
