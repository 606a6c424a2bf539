//go:build cgo

package gpu_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
	"strata/gpu"
	"strata/internal/testseed"
	"strata/shaders"
	"strata/synthetic"
)

// pair runs the same operations on the CPU backend (the reference) and
// the Vulkan backend.
type pair struct {
	t   *testing.T
	ref engine.Backend
	gpu engine.Backend
	rng *rand.Rand
}

func newPair(t *testing.T) *pair { return newPairProfile(t, os.Getenv(gpu.ProfileEnv)) }

// newPairProfile pairs the CPU backend with a Vulkan one under a profile.
func newPairProfile(t *testing.T, profile string) *pair {
	g := openGPUProfile(t, profile)
	c := cpu.New(cpu.Options{Threads: 2})
	t.Cleanup(func() { c.Close() })
	return &pair{t: t, ref: c, gpu: g, rng: testseed.New(t)}
}

// tensors makes the same random tensor on both backends.
func (p *pair) tensors(rows, cols int) (engine.Tensor, engine.Tensor, []float32) {
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(p.rng.NormFloat64())
	}
	a, err := p.ref.NewTensor(rows, cols)
	if err != nil {
		p.t.Fatal(err)
	}
	b, err := p.gpu.NewTensor(rows, cols)
	if err != nil {
		p.t.Fatal(err)
	}
	p.ref.Write(a, v)
	if err := p.gpu.Write(b, v); err != nil {
		p.t.Fatal(err)
	}
	return a, b, v
}

func (p *pair) weights(typ gguf.TensorType, rows, cols int) (engine.Weight, engine.Weight) {
	data, err := synthetic.Weights(p.rng, typ, cols, rows)
	if err != nil {
		p.t.Fatal(err)
	}
	info := &gguf.TensorInfo{Name: "w", Type: typ, Dims: []uint64{uint64(cols), uint64(rows)}}
	if rows == 1 {
		info.Dims = info.Dims[:1]
	}
	a, err := p.ref.LoadWeight(info, data)
	if err != nil {
		p.t.Fatal(err)
	}
	b, err := p.gpu.LoadWeight(info, data)
	if err != nil {
		p.t.Fatal(err)
	}
	return a, b
}

// compare reads rows [0, n) of both and checks their NMSE.
func (p *pair) compare(what string, a, b engine.Tensor, n int, limit float64) {
	p.t.Helper()
	want := make([]float32, n*a.Cols())
	got := make([]float32, n*b.Cols())
	if err := p.ref.Read(want, a, 0, n); err != nil {
		p.t.Fatal(err)
	}
	if err := p.gpu.Read(got, b, 0, n); err != nil {
		p.t.Fatal(err)
	}
	e := nmse(got, want)
	p.t.Logf("%s: NMSE %.3g", what, e)
	if !(e <= limit) {
		p.t.Errorf("%s: NMSE %.3g > %.0e", what, e, limit)
	}
}

func TestMatMulKernels(t *testing.T) {
	p := newPair(t)
	for _, typ := range shaders.Types {
		for _, shape := range [][3]int{{37, 256, 1}, {130, 512, 3}, {64, 1024, 11}} {
			rows, cols, n := shape[0], shape[1], shape[2]
			wa, wb := p.weights(typ, rows, cols)
			xa, xb, _ := p.tensors(n, cols)
			oa, ob, _ := p.tensors(n, rows)
			p.ref.MatMul(oa, wa, xa, n)
			p.gpu.MatMul(ob, wb, xb, n)
			p.compare(fmt.Sprintf("matmul %v %dx%d n=%d", typ, rows, cols, n), oa, ob, n, 5e-6)

			tokens := []int32{int32(rows - 1), 0, int32(rows / 2)}
			ea, eb, _ := p.tensors(len(tokens), cols)
			p.ref.Embed(ea, wa, tokens)
			p.gpu.Embed(eb, wb, tokens)
			p.compare(fmt.Sprintf("embed %v", typ), ea, eb, len(tokens), 1e-12)
		}
	}
}

func TestNormRopeSwiGLUAdd(t *testing.T) {
	p := newPair(t)
	const n, cols = 7, 768
	xa, xb, _ := p.tensors(n, cols)
	wa, wb := p.weights(gguf.F32, 1, cols)
	oa, ob, _ := p.tensors(n, cols)
	p.ref.RMSNorm(oa, xa, wa, n, 1e-5)
	p.gpu.RMSNorm(ob, xb, wb, n, 1e-5)
	p.compare("rmsnorm", oa, ob, n, 1e-7)

	r := &engine.Rope{HeadDim: 128, Heads: 6, Dims: 96, Freqs: make([]float64, 48)}
	for i := range r.Freqs {
		r.Freqs[i] = math.Pow(1e6, -2*float64(i)/96)
	}
	qa, qb, _ := p.tensors(n, 6*128)
	p.ref.RoPE(qa, n, 1234, r)
	p.gpu.RoPE(qb, n, 1234, r)
	p.compare("rope", qa, qb, n, 1e-7)

	ga, gb, _ := p.tensors(n, cols)
	ua, ub, _ := p.tensors(n, cols)
	p.ref.SwiGLU(oa, ga, ua, n)
	p.gpu.SwiGLU(ob, gb, ub, n)
	p.compare("swiglu", oa, ob, n, 1e-7)

	p.ref.Add(oa, ga, n)
	p.gpu.Add(ob, gb, n)
	p.compare("add", oa, ob, n, 1e-12)

	ca, cb, _ := p.tensors(2, cols)
	p.ref.Copy(ca, 1, oa, 4, 1)
	p.gpu.Copy(cb, 1, ob, 4, 1)
	p.compare("copy", ca, cb, 2, 1e-12)
}

func TestAttentionKernel(t *testing.T) {
	p := newPair(t)
	for _, a := range []engine.AttentionShape{
		{Heads: 8, KVHeads: 2, HeadDim: 64},
		{Heads: 4, KVHeads: 1, HeadDim: 128},
		{Heads: 6, KVHeads: 3, HeadDim: 256},
	} {
		a.Scale = float32(1 / math.Sqrt(float64(a.HeadDim)))
		const layers, ctx = 2, 300
		kvw := a.KVHeads * a.HeadDim
		ca, _ := p.ref.NewCache(layers, ctx, kvw)
		cb, err := p.gpu.NewCache(layers, ctx, kvw)
		if err != nil {
			t.Fatal(err)
		}
		pos := 0
		// A prefill longer than one tile of 128 positions, then decode steps.
		for _, n := range []int{150, 1, 1, 20, 1} {
			qa, qb, _ := p.tensors(n, a.Heads*a.HeadDim)
			ka, kb, _ := p.tensors(n, kvw)
			va, vb, _ := p.tensors(n, kvw)
			oa, ob, _ := p.tensors(n, a.Heads*a.HeadDim)
			p.ref.Attention(oa, qa, ka, va, ca, 1, pos, n, &a)
			p.gpu.Attention(ob, qb, kb, vb, cb, 1, pos, n, &a)
			p.compare(fmt.Sprintf("attention %+v at %d n=%d", a, pos, n), oa, ob, n, 5e-6)
			pos += n
		}
		cb.Release()
	}
}

// TestSplitWeights caps buffers at 64 KiB so that weights are split into
// several buffers of whole rows, as large tensors are on real devices.
func TestSplitWeights(t *testing.T) {
	g, err := gpu.New(gpu.Options{Device: -1, MaxBuffer: 1 << 16, PipelineCache: "-"})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer g.Close()
	c := cpu.New(cpu.Options{Threads: 2})
	defer c.Close()
	p := &pair{t: t, ref: c, gpu: g, rng: rand.New(rand.NewPCG(7, 7))}
	for _, typ := range []gguf.TensorType{gguf.Q4_K, gguf.Q6_K, gguf.F16} {
		const rows, cols, n = 1000, 512, 3 // 288 KiB to 1 MiB: 5 to 16 buffers
		wa, wb := p.weights(typ, rows, cols)
		xa, xb, _ := p.tensors(n, cols)
		oa, ob, _ := p.tensors(n, rows)
		p.ref.MatMul(oa, wa, xa, n)
		p.gpu.MatMul(ob, wb, xb, n)
		p.compare(fmt.Sprintf("split matmul %v", typ), oa, ob, n, 5e-6)
		tokens := []int32{999, 0, 500, 127}
		ea, eb, _ := p.tensors(len(tokens), cols)
		p.ref.Embed(ea, wa, tokens)
		p.gpu.Embed(eb, wb, tokens)
		p.compare(fmt.Sprintf("split embed %v", typ), ea, eb, len(tokens), 1e-12)
	}
}

func TestLoadWeightRejects(t *testing.T) {
	g := openGPU(t)
	_, err := g.LoadWeight(&gguf.TensorInfo{Name: "w", Type: gguf.IQ2_XS, Dims: []uint64{256, 2}}, make([]byte, 148))
	want := `gpu: tensor "w" is IQ2_XS: unsupported tensor type (the vulkan backend computes F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS)`
	if err == nil || err.Error() != want || !errors.Is(err, engine.ErrUnsupportedType) {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// TestCopyAddBounds checks that Copy and Add past their tensors' rows are
// refused, with the error Read reports, instead of queuing copies and
// dispatches outside the buffers.
func TestCopyAddBounds(t *testing.T) {
	for _, c := range []struct {
		name string
		op   func(g engine.Backend, a4x8, b3x8 engine.Tensor)
		want string
	}{
		{"copy", func(g engine.Backend, x, y engine.Tensor) { g.Copy(y, 2, x, 0, 2) }, "gpu: copy of rows [0, 2) of 4 × 8 to rows [2, 4) of 3 × 8"},
		{"add", func(g engine.Backend, x, y engine.Tensor) { g.Add(x, y, 4) }, "gpu: add of 4 rows of 3 × 8 to 4 × 8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := openGPU(t)
			x, _ := g.NewTensor(4, 8)
			y, _ := g.NewTensor(3, 8)
			c.op(g, x, y)
			err := g.Read(make([]float32, 8), x, 0, 1)
			if err == nil || err.Error() != c.want {
				t.Fatalf("Read after the refused %s: %v, want %q", c.name, err, c.want)
			}
		})
	}
}
