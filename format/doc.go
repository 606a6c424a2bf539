// Package format decodes the element formats of ggml tensor types: the
// reference dequantizers, which define every weight's value to the bit
// for all backends, and the half-precision float conversions.
//
// A type's block geometry (elements and bytes per block) is gguf's: see
// gguf.TensorType's BlockSize and TypeSize. This package uses the
// standard library and gguf only, so that every backend can use it.
package format
