package cpu

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"

	"strata/engine"
	"strata/format"
	"strata/gguf"
)

// Options configure a Backend. The zero value is valid.
type Options struct {
	// Threads is the number of workers; 0 means one per logical CPU.
	Threads int
	// Kernels names the kernel variant to run: "generic" (pure Go),
	// "avx2" or "avx512"; "" or "auto" picks the fastest the processor
	// runs. Every variant computes the same bits.
	Kernels string
	// Mmap computes from the model file's memory mapping as it is,
	// instead of from a copy in huge pages of the backend's own (on
	// Linux; elsewhere the mapping is always used). The mapping loads
	// sooner and shares its pages with other processes; the copy decodes
	// about twice as fast once the weights outgrow the caches, since a
	// pass over 4 KiB pages misses the TLB at every page.
	Mmap bool
}

// Validate reports an option New cannot honour.
func (o Options) Validate() error {
	if o.Threads < 0 {
		return fmt.Errorf("cpu: %d threads: want 0 (one per logical CPU) or more", o.Threads)
	}
	_, err := parseVariant(o.Kernels)
	return err
}

// Backend is the CPU implementation of engine.Backend.
type Backend struct {
	pool       *Pool
	variant    kernelVariant
	tile       tileProduct                                     // the variant's
	silu       func(out, gate, up []float32)                   // the variant's siluMul
	softmaxExp func(scores []float32, best float32) float64    // the variant's softmaxExp
	dotRows    func(out, k []float32, stride int, q []float32) // the variant's, rows.go
	axpyRows   func(o, v []float32, stride int, w []float32)   // the variant's, rows.go
	scratch    [][]float32                                     // per worker: a tile of dequantized rows
	carried    [][]float32                                     // per worker: the tile product's carried lanes
	quant      quantBatch                                      // the input of an integer product, quantized
	quantize   func(q *quantBatch, x []float32, n, cols int)   // the variant's quantizer
	lanes      [][]float64                                     // per worker: the integer kernels' lanes
	err        error                                           // the first operation refused, reported by Read and Write
	copies     bool                                            // LoadWeight copies into memory of its own (Options.Mmap unset)

	matmul    matmulTask
	attention attentionTask
	rope      ropeTask
	norm      normTask
	swiglu    swigluTask
}

var _ engine.Backend = (*Backend)(nil)

// New starts a CPU backend and its worker pool. Options that do not
// validate fall back to their defaults.
func New(o Options) *Backend {
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	v, err := parseVariant(o.Kernels)
	if err != nil {
		v = bestVariant()
	}
	b := &Backend{pool: NewPool(threads), variant: v, tile: tileProducts(v), silu: silus(v), softmaxExp: softmaxExps(v), dotRows: dotRowss(v), axpyRows: axpyRowss(v),
		scratch: make([][]float32, threads), carried: make([][]float32, threads), quantize: quantizer(v), lanes: make([][]float64, threads),
		copies: ownMemory && !o.Mmap}
	b.attention.b = b
	b.matmul.b = b
	return b
}

// Kernels names the kernel variant the backend runs.
func (b *Backend) Kernels() string { return b.variant.String() }

// Name is "cpu".
func (b *Backend) Name() string { return "cpu" }

// Device names the processor and the number of threads.
func (b *Backend) Device() string {
	threads := "threads"
	if b.pool.Workers() == 1 {
		threads = "thread"
	}
	return fmt.Sprintf("%s (%d %s, %s kernels)", processorName(), b.pool.Workers(), threads, b.variant)
}

// Close stops the worker pool.
func (b *Backend) Close() error {
	b.pool.Close()
	return nil
}

// processorName reads the CPU model from /proc/cpuinfo where there is one.
func processorName() string {
	f, err := os.Open("/proc/cpuinfo")
	if err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			k, v, ok := strings.Cut(s.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// ensureScratch makes every worker's scratch hold at least n floats.
func (b *Backend) ensureScratch(n int) {
	for i := range b.scratch {
		if len(b.scratch[i]) < n {
			b.scratch[i] = make([]float32, n)
		}
	}
}

type weight struct {
	typ        gguf.TensorType
	rows, cols int
	rowBytes   int
	data       []byte
	decode     func(dst []float32, src []byte) // the type's Go dequantizer (format's)
	kernel     rowsKernel                      // the type's matrix-vector kernel
	integer    integerKernel                   // the type's integer kernel, for the K formats
	vector     []float32                       // the values of a one-row weight (norms), decoded at load
	own        *mapping                        // the memory data lives in, when it is a copy outside the Go heap
}

func (w *weight) Type() gguf.TensorType { return w.typ }
func (w *weight) Rows() int             { return w.rows }
func (w *weight) Cols() int             { return w.cols }

// Release unmaps the weight's copy, or drops its references to the
// mapped file, and its decoded vector.
func (w *weight) Release() {
	if w.own != nil {
		w.own.free()
	}
	w.data, w.vector, w.own = nil, nil, nil
}

// row returns the bytes of row r.
func (w *weight) row(r int) []byte { return w.data[r*w.rowBytes : (r+1)*w.rowBytes] }

// CopiesWeights reports whether LoadWeight copies the weights into memory
// of the backend's own (engine.WeightCopier): unless Options.Mmap is set,
// on Linux.
func (b *Backend) CopiesWeights() bool { return b.copies }

// LoadWeight copies the tensor into huge pages of the backend's own, or
// wraps the memory-mapped bytes as they are (Options.Mmap). One-row
// tensors are also decoded to f32.
func (b *Backend) LoadWeight(t *gguf.TensorInfo, data []byte) (engine.Weight, error) {
	decode, ok := format.Dequantizer(t.Type)
	if !ok {
		return nil, fmt.Errorf("cpu: tensor %q is %v: %w", t.Name, t.Type, errUnsupported)
	}
	cols := int(t.Dims[0])
	rows := int(t.Elements()) / max(cols, 1)
	w := &weight{typ: t.Type, rows: rows, cols: cols, rowBytes: t.Type.RowSize(cols), data: data,
		decode: decode, kernel: kernel(t.Type, b.variant)}
	if integerType(t.Type) {
		w.integer = integerKernelOf(t.Type, b.variant)
	}
	if len(data) != rows*w.rowBytes {
		return nil, fmt.Errorf("cpu: tensor %q: %d bytes, want %d", t.Name, len(data), rows*w.rowBytes)
	}
	if rows == 1 {
		w.vector = make([]float32, cols)
		decode(w.vector, data)
	}
	if b.copies {
		if err := ownCopy(w, data); err != nil {
			return nil, fmt.Errorf("cpu: tensor %q: %w", t.Name, err)
		}
	}
	b.ensureScratch(tileRows * cols)
	return w, nil
}

type tensor struct {
	rows, cols int
	data       []float32
}

func (t *tensor) Rows() int { return t.rows }
func (t *tensor) Cols() int { return t.cols }

// Release drops the tensor's memory (the garbage collector frees it).
func (t *tensor) Release() { t.data = nil }

// row returns rows [r, r+n) of t.
func (t *tensor) row(r, n int) []float32 { return t.data[r*t.cols : (r+n)*t.cols] }

// NewTensor allocates a zeroed rows × cols tensor.
func (b *Backend) NewTensor(rows, cols int) (engine.Tensor, error) {
	if rows <= 0 || cols <= 0 {
		return nil, fmt.Errorf("cpu: tensor of %d × %d", rows, cols)
	}
	return &tensor{rows: rows, cols: cols, data: make([]float32, rows*cols)}, nil
}

type cache struct {
	layers, positions, width int
	k, v                     []float32 // [layers][positions][width]
}

func (c *cache) Positions() int { return c.positions }

// Release drops the cache's memory (the garbage collector frees it).
func (c *cache) Release() { c.k, c.v = nil, nil }

// at returns the keys and values of layer from position 0 on.
func (c *cache) at(layer int) (k, v []float32) {
	n := c.positions * c.width
	return c.k[layer*n : (layer+1)*n], c.v[layer*n : (layer+1)*n]
}

// NewCache allocates a KV cache.
func (b *Backend) NewCache(layers, positions, width int) (engine.Cache, error) {
	if layers < 0 || positions <= 0 || width <= 0 {
		return nil, fmt.Errorf("cpu: cache of %d layers × %d positions × %d", layers, positions, width)
	}
	n := layers * positions * width
	b.ensureScratch(positions)
	return &cache{layers: layers, positions: positions, width: width,
		k: make([]float32, n), v: make([]float32, n)}, nil
}

// Write copies src into dst, and reports an operation refused before.
func (b *Backend) Write(dst engine.Tensor, src []float32) error {
	t := dst.(*tensor)
	if len(src) > len(t.data) {
		return fmt.Errorf("cpu: write of %d values into a tensor of %d", len(src), len(t.data))
	}
	copy(t.data, src)
	return b.err
}

// Read copies rows [row, row+n) of src into dst, and reports an
// operation refused before.
func (b *Backend) Read(dst []float32, src engine.Tensor, row, n int) error {
	t := src.(*tensor)
	if row < 0 || n < 0 || row+n > t.rows || len(dst) < n*t.cols {
		return fmt.Errorf("cpu: read of rows [%d, %d) of %d into %d values", row, row+n, t.rows, len(dst))
	}
	copy(dst, t.row(row, n))
	return b.err
}

// fail records the first operation refused.
func (b *Backend) fail(err error) {
	if b.err == nil {
		b.err = fmt.Errorf("cpu: %w", err)
	}
}

// Copy copies n rows between tensors of the same width.
func (b *Backend) Copy(dst engine.Tensor, dstRow int, src engine.Tensor, srcRow, n int) {
	if err := engine.CheckCopy(dst, dstRow, src, srcRow, n); err != nil {
		b.fail(err)
		return
	}
	copy(dst.(*tensor).row(dstRow, n), src.(*tensor).row(srcRow, n))
}

// Embed dequantizes the rows of table named by tokens.
func (b *Backend) Embed(out engine.Tensor, table engine.Weight, tokens []int32) {
	o, w := out.(*tensor), table.(*weight)
	for i, tok := range tokens {
		w.decode(o.row(i, 1), w.row(int(tok)))
	}
}

// Add adds y to x.
func (b *Backend) Add(x, y engine.Tensor, n int) {
	if err := engine.CheckAdd(x, y, n); err != nil {
		b.fail(err)
		return
	}
	xs, ys := x.(*tensor).row(0, n), y.(*tensor).row(0, n)
	for i := range xs {
		xs[i] += ys[i]
	}
}
