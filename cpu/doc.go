// Package cpu is strata's pure-Go compute backend: the fallback for peers
// without a GPU, and the reference the GPU backend is tested against.
//
// Kernels work on whole rows: Dequantize turns a row of quantized blocks
// into f32, Dot reduces two f32 rows, and MatMul spreads tiles of weight
// rows over a persistent worker Pool. Every output element is computed by
// the same instruction sequence whatever the batch size, so prefill and
// decode agree bit for bit. Kernels never allocate or log.
package cpu
