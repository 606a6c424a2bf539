// Package gguf reads and writes GGUF files, the model format of the ggml
// ecosystem (llama.cpp), versions 2 and 3.
//
// A GGUF file is a header, a list of typed key-value metadata, a list of
// tensor descriptions, and an aligned blob of tensor data:
//
//	magic "GGUF" | version u32 | n_tensors u64 | n_kv u64
//	n_kv × (key string | value type u32 | value)
//	n_tensors × (name string | n_dims u32 | dims u64×n_dims | type u32 | offset u64)
//	padding to general.alignment (default 32)
//	tensor data
//
// Open maps a file into memory and validates every count, size and offset
// against the bytes that are really there before it uses them, so a
// truncated, corrupt or hostile file yields a *FormatError that names the
// field and its byte offset, never a panic or an allocation that the file's
// size does not justify. Tensor data is never copied: TensorData returns a
// slice of the mapping.
//
// The package depends on the standard library only.
package gguf
