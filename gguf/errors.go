package gguf

import (
	"errors"
	"fmt"
)

// ErrNotGGUF reports a file that does not start with the GGUF magic.
var ErrNotGGUF = errors.New("gguf: not a GGUF file")

// ErrUnsupportedVersion reports a GGUF version other than 2 or 3.
var ErrUnsupportedVersion = errors.New("gguf: unsupported version")

// ErrTruncated reports a file that ends before the data it describes.
var ErrTruncated = errors.New("truncated")

// A FormatError describes malformed content: which field, at which byte
// offset of the file, and what is wrong with it. It wraps ErrTruncated
// when the file ends early.
type FormatError struct {
	Offset int64  // byte offset of the field in the file
	Field  string // e.g. `tensor "blk.0.attn_q.weight" dims`, `key "general.name"`
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("gguf: %s at byte %d: %v", e.Field, e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }
