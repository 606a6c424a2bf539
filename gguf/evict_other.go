//go:build !linux

package gguf

// dropPages does nothing where the pages of a mapping cannot be dropped
// from the process: they stay resident until the file is closed.
func dropPages([]byte) {}
