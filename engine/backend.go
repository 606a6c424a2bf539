package engine

import (
	"errors"
	"fmt"
	"strings"

	"strata/gguf"
)

// A Backend computes the operations of the forward pass on one device.
// The CPU (package cpu) and Vulkan (package gpu) implement it; the forward
// pass in this package is written once against it.
//
// Operations act on rows [0, n) of their tensors unless they say otherwise.
// A backend may queue operations and run them later; Read waits for all
// queued work and reports the first error any of it met. An operation
// that returns no error and cannot be done (a Copy or Add past its
// tensors' rows, say) does nothing, and its error is the one Read and
// Write report from then on. A Backend is not safe for concurrent use.
type Backend interface {
	// Name is the backend's short name: "cpu", "vulkan".
	Name() string
	// Device describes the device the backend computes on.
	Device() string

	// LoadWeight makes a model tensor available to the device. data is the
	// tensor's bytes in the GGUF file, memory-mapped; the backend may keep
	// referring to them. A tensor type the backend cannot compute yields an
	// error wrapping ErrUnsupportedType.
	LoadWeight(t *gguf.TensorInfo, data []byte) (Weight, error)
	// NewTensor allocates an f32 activation tensor of rows × cols.
	NewTensor(rows, cols int) (Tensor, error)
	// NewCache allocates a KV cache of layers × positions × width for keys
	// and the same for values.
	NewCache(layers, positions, width int) (Cache, error)

	// Write copies src (rows × cols of dst, row-major) into dst.
	Write(dst Tensor, src []float32) error
	// Read waits for queued work and copies rows [row, row+n) of src into dst.
	Read(dst []float32, src Tensor, row, n int) error
	// Copy copies n rows of src starting at srcRow to dst starting at dstRow.
	Copy(dst Tensor, dstRow int, src Tensor, srcRow, n int)

	// Embed writes row tokens[i] of table into row i of out.
	Embed(out Tensor, table Weight, tokens []int32)
	// RMSNorm writes x / sqrt(mean(x²) + eps) * weight, row by row.
	RMSNorm(out, x Tensor, weight Weight, n int, eps float32)
	// MatMul writes out[i] = W · x[i] for each row i: out is n × W.Rows(),
	// x is n × W.Cols(). Each output element must be computed the same way
	// whatever n is (batch invariance), so that a prompt processed as a batch
	// and the same tokens processed one by one give identical results.
	MatMul(out Tensor, w Weight, x Tensor, n int)
	// RoPE rotates, in place, the first r.Dims dimensions of each head of
	// rows [0, n) of x; row i is at position pos+i.
	RoPE(x Tensor, n, pos int, r *Rope)
	// Attention stores rows [0, n) of k and v at positions [pos, pos+n) of
	// layer's cache, then writes to out the causal attention of each query
	// row i (at position pos+i) over cache positions [0, pos+i].
	Attention(out, q, k, v Tensor, cache Cache, layer, pos, n int, a *AttentionShape)
	// SwiGLU writes out = silu(gate) * up.
	SwiGLU(out, gate, up Tensor, n int)
	// Add adds y to x in place.
	Add(x, y Tensor, n int)

	// Close releases the backend's resources.
	Close() error
}

// A WeightCopier is a Backend whose LoadWeight copies the tensor's bytes
// (into memory of its own, or onto a device) and keeps no reference to
// them. A fragment's loader then evicts the file's pages from the process
// (gguf.File.Evict) once each tensor is loaded, so that the weights are
// resident once, not twice.
type WeightCopier interface {
	Backend
	// CopiesWeights reports whether LoadWeight copies; a backend may copy
	// or map as its options say.
	CopiesWeights() bool
}

// A CacheWriter is a Backend that can store keys and values in a cache
// without attending: a pass whose output nobody reads (Batch.CacheOnly)
// then computes only the keys and values of its last layer. Without it,
// such a pass computes the whole layer.
type CacheWriter interface {
	Backend
	// WriteCache stores rows [0, n) of k and v at positions [pos, pos+n)
	// of layer's cache, as Attention does before it attends.
	WriteCache(k, v Tensor, cache Cache, layer, pos, n int)
}

// A Weight is a model tensor on a backend: Rows() rows of Cols() elements.
type Weight interface {
	Type() gguf.TensorType
	Rows() int
	Cols() int
	// Release frees what the backend holds of the weight (a copy in
	// device memory); the weight must not be used after, and queued
	// operations that use it must have been read.
	Release()
}

// A Tensor is an f32 activation on a backend.
type Tensor interface {
	Rows() int
	Cols() int
	// Release frees the tensor's memory; the tensor must not be used
	// after, and queued operations that use it must have been read.
	Release()
}

// A Cache holds the keys and values of a session's positions for the
// layers of one fragment.
type Cache interface {
	Positions() int
	// Release frees the cache's memory; the cache must not be used after.
	Release()
}

// Rope describes rotary position embedding in llama's "normal" style:
// dimensions 2i and 2i+1 of each head are rotated by pos × Freqs[i].
type Rope struct {
	HeadDim int       // width of one head
	Heads   int       // heads in the row
	Dims    int       // rotated dimensions per head (even, at most HeadDim)
	Freqs   []float64 // Dims/2 angular frequencies, scaling included
}

// AttentionShape describes grouped-query attention.
type AttentionShape struct {
	Heads   int     // query heads
	KVHeads int     // key/value heads; query head h reads KV head h/(Heads/KVHeads)
	HeadDim int     // width of a query, key and value head
	Scale   float32 // multiplies q·k, usually 1/sqrt(HeadDim)
}

// CheckCopy reports a Copy of n rows from srcRow of src to dstRow of dst
// that backends must refuse: rows outside a tensor, or widths that differ.
func CheckCopy(dst Tensor, dstRow int, src Tensor, srcRow, n int) error {
	if n < 0 || dstRow < 0 || srcRow < 0 || dstRow+n > dst.Rows() || srcRow+n > src.Rows() || dst.Cols() != src.Cols() {
		return fmt.Errorf("copy of rows [%d, %d) of %d × %d to rows [%d, %d) of %d × %d",
			srcRow, srcRow+n, src.Rows(), src.Cols(), dstRow, dstRow+n, dst.Rows(), dst.Cols())
	}
	return nil
}

// CheckAdd reports an Add of n rows of y to x that backends must refuse:
// more rows than a tensor holds, or widths that differ.
func CheckAdd(x, y Tensor, n int) error {
	if n < 0 || n > x.Rows() || n > y.Rows() || x.Cols() != y.Cols() {
		return fmt.Errorf("add of %d rows of %d × %d to %d × %d", n, y.Rows(), y.Cols(), x.Rows(), x.Cols())
	}
	return nil
}

// ErrUnsupportedType reports a tensor type a backend cannot compute.
var ErrUnsupportedType = errors.New("unsupported tensor type")

// UnsupportedTypes returns the error a backend named backend wraps for a
// tensor of a type not among the types it computes: ErrUnsupportedType,
// with the list.
func UnsupportedTypes(backend string, types []gguf.TensorType) error {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.String()
	}
	return fmt.Errorf("%w (the %s backend computes %s)", ErrUnsupportedType, backend, strings.Join(names, ", "))
}
