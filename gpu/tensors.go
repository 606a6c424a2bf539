//go:build cgo

package gpu

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unsafe"

	"strata/engine"
	"strata/format"
	"strata/gguf"
	"strata/shaders"
)

// errUnsupported is the error of a weight whose type no shader reads.
var errUnsupported = engine.UnsupportedTypes("vulkan", shaders.Types)

// A weight lives in one or more buffers of whole rows, each within the
// device's storage buffer range. One-row weights (norms) are kept as f32.
type weight struct {
	g          *Backend
	typ        gguf.TensorType
	rows, cols int
	rowBytes   int
	chunks     []chunk
	vector     *buffer // the f32 values of a one-row weight
	shader     string  // type suffix of the matmul and embed shaders
}

type chunk struct {
	buf         *buffer
	first, rows int
}

// Release frees the weight's device buffers (engine.ReleasableWeight).
func (w *weight) Release() {
	for _, c := range w.chunks {
		w.g.release(c.buf)
	}
	if w.vector != nil {
		w.g.release(w.vector)
	}
	w.chunks, w.vector = nil, nil
}

func (w *weight) Type() gguf.TensorType { return w.typ }
func (w *weight) Rows() int             { return w.rows }
func (w *weight) Cols() int             { return w.cols }

// CopiesWeights reports that LoadWeight copies every tensor onto the
// device and keeps no reference to the file's bytes (engine.WeightCopier).
func (g *Backend) CopiesWeights() bool { return true }

// LoadWeight copies a tensor into device memory.
func (g *Backend) LoadWeight(t *gguf.TensorInfo, data []byte) (engine.Weight, error) {
	cols := int(t.Dims[0])
	rows := int(t.Elements()) / max(cols, 1)
	w := &weight{g: g, typ: t.Type, rows: rows, cols: cols, rowBytes: t.Type.RowSize(cols), shader: strings.ToLower(t.Type.String())}
	if !slices.Contains(shaders.Types, t.Type) {
		return nil, fmt.Errorf("gpu: tensor %q is %v: %w", t.Name, t.Type, errUnsupported)
	}
	if rows == 1 {
		v := make([]float32, cols)
		if err := format.Dequantize(v, data, t.Type); err != nil {
			return nil, fmt.Errorf("gpu: tensor %q: %w", t.Name, err)
		}
		b, err := g.track(g.newBuffer(uint64(4*cols), false))
		if err != nil {
			return nil, err
		}
		w.vector = b
		return w, g.upload(b, 0, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*cols))
	}
	if cols%32 != 0 {
		return nil, fmt.Errorf("gpu: tensor %q: rows of %d values are not a multiple of 32", t.Name, cols)
	}
	per := int(g.maxRange-16) / w.rowBytes
	if per == 0 {
		return nil, fmt.Errorf("gpu: tensor %q: one row of %d bytes exceeds the storage buffer range", t.Name, w.rowBytes)
	}
	for first := 0; first < rows; first += per {
		n := min(per, rows-first)
		b, err := g.track(g.newBuffer(uint64(n*w.rowBytes), false))
		if err != nil {
			return nil, fmt.Errorf("gpu: tensor %q: %w", t.Name, err)
		}
		if err := g.upload(b, 0, data[first*w.rowBytes:(first+n)*w.rowBytes]); err != nil {
			return nil, err
		}
		w.chunks = append(w.chunks, chunk{buf: b, first: first, rows: n})
	}
	return w, nil
}

type tensor struct {
	g          *Backend
	rows, cols int
	buf        *buffer
}

func (t *tensor) Rows() int { return t.rows }
func (t *tensor) Cols() int { return t.cols }

// Release frees the tensor's buffer.
func (t *tensor) Release() {
	if t.buf != nil {
		t.g.release(t.buf)
		t.buf = nil
	}
}

// NewTensor allocates an f32 activation in device memory.
func (g *Backend) NewTensor(rows, cols int) (engine.Tensor, error) {
	if rows <= 0 || cols <= 0 {
		return nil, fmt.Errorf("gpu: tensor of %d × %d", rows, cols)
	}
	b, err := g.track(g.newBuffer(uint64(rows*cols*4), false))
	if err != nil {
		return nil, fmt.Errorf("gpu: activation of %d × %d: %w (a smaller -b helps)", rows, cols, err)
	}
	return &tensor{g: g, rows: rows, cols: cols, buf: b}, nil
}

// cache keeps each layer's keys and values in buffers of their own.
type cache struct {
	g                *Backend
	positions, width int
	k, v             []*buffer
}

func (c *cache) Positions() int { return c.positions }

// Release frees the cache's buffers.
func (c *cache) Release() {
	for i := range c.k {
		c.g.release(c.k[i])
		c.g.release(c.v[i])
	}
	c.k, c.v = nil, nil
}

// NewCache allocates a KV cache in device memory.
func (g *Backend) NewCache(layers, positions, width int) (engine.Cache, error) {
	c := &cache{g: g, positions: positions, width: width}
	size := uint64(positions * width * 4)
	for range layers {
		k, err := g.track(g.newBuffer(size, false))
		if err == nil {
			var v *buffer
			if v, err = g.track(g.newBuffer(size, false)); err == nil {
				c.k, c.v = append(c.k, k), append(c.v, v)
				continue
			}
			g.release(k)
		}
		c.Release()
		return nil, fmt.Errorf("gpu: KV cache of %d positions: %w (a smaller -c helps)", positions, err)
	}
	return c, nil
}

// Write copies src into dst through the dynamic buffer.
func (g *Backend) Write(dst engine.Tensor, src []float32) error {
	t := dst.(*tensor)
	if len(src) > t.rows*t.cols {
		return fmt.Errorf("gpu: write of %d values into a tensor of %d", len(src), t.rows*t.cols)
	}
	if len(src) == 0 {
		return nil
	}
	off, b := g.dynamic(uint64(4 * len(src)))
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 4*len(src)))
	g.copyBuffer(t.buf, 0, g.q.dyn, off, uint64(4*len(src)))
	return g.err
}

// Read runs the queued work and copies rows [row, row+n) of src into dst,
// through the readback buffer, in pieces that fit it.
func (g *Backend) Read(dst []float32, src engine.Tensor, row, n int) error {
	t := src.(*tensor)
	if row < 0 || n < 0 || row+n > t.rows || len(dst) < n*t.cols {
		return fmt.Errorf("gpu: read of rows [%d, %d) of %d into %d values", row, row+n, t.rows, len(dst))
	}
	rb := g.q.readback
	per := int(rb.size) / (4 * t.cols)
	for done := 0; done < n; done += per {
		m := min(per, n-done)
		g.copyBuffer(rb, 0, t.buf, uint64((row+done)*t.cols*4), uint64(m*t.cols*4))
		if err := g.flush(); err != nil {
			return err
		}
		out := unsafe.Slice((*float32)(rb.mapped), m*t.cols)
		copy(dst[done*t.cols:], out)
	}
	return g.err
}

// Copy queues a copy of n rows between tensors of the same width.
func (g *Backend) Copy(dst engine.Tensor, dstRow int, src engine.Tensor, srcRow, n int) {
	if err := engine.CheckCopy(dst, dstRow, src, srcRow, n); err != nil {
		g.fail(fmt.Errorf("gpu: %w", err))
		return
	}
	d, s := dst.(*tensor), src.(*tensor)
	g.copyBuffer(d.buf, uint64(dstRow*d.cols*4), s.buf, uint64(srcRow*s.cols*4), uint64(n*s.cols*4))
}

func f32bits(f float32) uint32 { return math.Float32bits(f) }
