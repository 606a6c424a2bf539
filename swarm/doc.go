// Package swarm places a model on a swarm of peers and lets each peer
// measure what it can do.
//
// Place is a pure function from a model's shape (Model, read from a GGUF
// file by ModelOf) and the peers' measurements (Peer, from Measure) to a
// Plan: contiguous layer ranges forming one pipeline, a primary peer and
// replicas for each range, and the decode throughput the plan predicts.
// EvenPlan is the equal-layer split of the same peers, for comparison.
//
// Units throughout: bytes (int64) and seconds (float64); a speed is
// seconds per layer per token, so that stage times add.
package swarm
