// Package engine computes llama-family language models: their
// configuration from GGUF metadata, the forward pass, tokenization,
// sampling and generation.
//
// The forward pass is written once, in Fragment.Forward, against the
// Backend interface. A Fragment runs a contiguous range of layers on
// hidden states and keeps, per Session, the KV cache of those layers; the
// first fragment of a model also embeds tokens and the last applies the
// output head. A model on one machine is one fragment holding every layer.
// The package knows nothing of networks: peers pass hidden states between
// fragments through package transport.
package engine
