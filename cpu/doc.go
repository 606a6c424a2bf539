// Package cpu is strata's CPU compute backend: the fallback for peers
// without a GPU, and the reference the GPU backend is tested against.
//
// The K formats (Q4_K, Q6_K) multiply in integers (integer.go): each input
// row is quantized once to 29 bits per super-block, every super-block's
// products are exact integer sums, scaled in float64 in one order; a
// kernel decodes a super-block's weights in registers once for a tile of
// inputs. Products of the other formats run a fused kernel that decodes the
// blocks in registers (decode), or dequantize tiles of rows for a
// register-blocked tile product (prompts), in one float order (kernel.go).
// Either way every output has one definition, so prefill and decode, any
// thread count and every kernel variant agree bit for bit.
//
// The values of the weights are package format's: its Go dequantizers
// are the definition the assembly kernels match.
//
// Kernels come in variants: pure Go (the twins, which define the bits, and
// the only ones built with the noasm tag or off amd64), AVX2 and AVX-512
// assembly, chosen at run time from the processor's features or forced by
// Options.Kernels. Work is spread over a persistent worker Pool. Kernels
// never allocate or log.
package cpu
