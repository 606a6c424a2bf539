// Package cpu is strata's CPU compute backend: the fallback for peers
// without a GPU, and the reference the GPU backend is tested against.
//
// A matrix-vector product (decode) runs a fused kernel per weight format
// that decodes the blocks in registers and multiplies them with the input
// in one pass; a batch (a prompt) dequantizes tiles of rows and multiplies
// them with every input by a register-blocked tile product. Both compute
// every output in one canonical order (kernel.go), so prefill and decode,
// any thread count and every kernel variant agree bit for bit.
//
// The values of the weights are package format's: its Go dequantizers
// are the definition the assembly dequantizers and kernels match.
//
// Kernels come in variants: pure Go (the twins, which define the bits, and
// the only ones built with the noasm tag or off amd64), AVX2 and AVX-512
// assembly, chosen at run time from the processor's features or forced by
// Options.Kernels. Work is spread over a persistent worker Pool. Kernels
// never allocate or log.
package cpu
