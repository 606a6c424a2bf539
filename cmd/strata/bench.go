package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
	"strata/gpu"
	"strata/synthetic"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "benchmarks",
		Subcommands: []*cli.Command{{
			Name:  "kernels",
			Usage: "time each kernel at Mistral-7B and Magistral-Small shapes on Vulkan and on the CPU",
			Description: "Vulkan times come from timestamp queries, CPU times from the wall clock; each is the\n" +
				"best of -r runs. GB/s counts the bytes a kernel must read (weights, or activations and\n" +
				"keys and values), and '% copy' compares it with the device's buffer-copy bandwidth\n" +
				"(bytes read plus written per second).",
			OnUsageError: usageError,
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "device", Value: -1, Usage: "Vulkan device `N` (-1: the best)"},
				&cli.StringFlag{Name: "models", Value: "mistral-7b,magistral-small", Usage: "shapes to time: mistral-7b, magistral-small"},
				&cli.IntFlag{Name: "repeats", Aliases: []string{"r"}, Value: 5, Usage: "runs of each kernel"},
				&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "CPU threads (0: one per logical CPU)"},
				&cli.BoolFlag{Name: "no-cpu", Usage: "time Vulkan only"},
				&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			},
			Action: benchKernels,
		}, benchModelCommand()},
	}
}

// benchShape is the part of a model's shape the kernels see.
type benchShape struct {
	name                                string
	embd, ff, heads, kvHeads, hd, vocab int
}

var benchShapes = map[string]benchShape{
	"mistral-7b":      {"mistral-7b", 4096, 14336, 32, 8, 128, 32768},
	"magistral-small": {"magistral-small", 5120, 32768, 32, 8, 128, 131072},
}

type benchRow struct {
	Model      string  `json:"model"`
	Kernel     string  `json:"kernel"`
	Shape      string  `json:"shape"`
	Bytes      int64   `json:"bytes"`
	VulkanUS   float64 `json:"vulkan_us,omitempty"`
	VulkanGBs  float64 `json:"vulkan_gb_s,omitempty"`
	CopyPct    float64 `json:"vulkan_copy_pct,omitempty"`
	CPUUS      float64 `json:"cpu_us,omitempty"`
	CPUGBs     float64 `json:"cpu_gb_s,omitempty"`
	VulkanNote string  `json:"vulkan_error,omitempty"`
}

type benchReport struct {
	Device      string     `json:"device"`
	CopyGBs     float64    `json:"copy_gb_s"`
	CPU         string     `json:"cpu"`
	Rows        []benchRow `json:"rows"`
	RepeatsEach int        `json:"repeats"`
}

// kernelCase builds its inputs on a backend and returns the call to time.
type kernelCase struct {
	kernel, shape string
	bytes         int64
	setup         func(b engine.Backend) (func(), error)
}

func kernelCases(s benchShape, rng *rand.Rand) []kernelCase {
	var cases []kernelCase
	matmul := func(typ gguf.TensorType, rows, cols, n int, what string) {
		var data []byte // made at the first setup, shared by the backends
		cases = append(cases, kernelCase{
			kernel: fmt.Sprintf("matmul %v", typ),
			shape:  fmt.Sprintf("%d×%d n=%d (%s)", rows, cols, n, what),
			bytes:  int64(rows) * int64(typ.RowSize(cols)),
			setup: func(b engine.Backend) (func(), error) {
				if data == nil {
					var err error
					if data, err = synthetic.Weights(rng, typ, cols, rows); err != nil {
						return nil, err
					}
				}
				w, err := b.LoadWeight(&gguf.TensorInfo{Name: what, Type: typ, Dims: []uint64{uint64(cols), uint64(rows)}}, data)
				if err != nil {
					return nil, err
				}
				x, err := b.NewTensor(n, cols)
				if err != nil {
					return nil, err
				}
				out, err := b.NewTensor(n, rows)
				if err != nil {
					return nil, err
				}
				return func() { b.MatMul(out, w, x, n) }, nil
			},
		})
	}
	qw, kvw := s.heads*s.hd, s.kvHeads*s.hd
	matmul(gguf.Q4_K, qw, s.embd, 1, "attn_q")
	matmul(gguf.Q4_K, s.ff, s.embd, 1, "ffn_gate")
	matmul(gguf.Q4_K, s.embd, s.ff, 1, "ffn_down")
	matmul(gguf.Q6_K, s.embd, s.ff, 1, "ffn_down")
	matmul(gguf.Q6_K, s.vocab, s.embd, 1, "output")
	matmul(gguf.Q4_K, qw, s.embd, 64, "attn_q prefill")
	matmul(gguf.Q6_K, kvw, s.embd, 64, "attn_v prefill")

	act := func(kernel, shape string, bytes int64, f func(b engine.Backend) (func(), error)) {
		cases = append(cases, kernelCase{kernel: kernel, shape: shape, bytes: bytes, setup: f})
	}
	act("rmsnorm", fmt.Sprintf("1×%d", s.embd), int64(8*s.embd), func(b engine.Backend) (func(), error) {
		w, err := b.LoadWeight(&gguf.TensorInfo{Name: "norm", Type: gguf.F32, Dims: []uint64{uint64(s.embd)}}, make([]byte, 4*s.embd))
		if err != nil {
			return nil, err
		}
		x, _ := b.NewTensor(1, s.embd)
		out, _ := b.NewTensor(1, s.embd)
		return func() { b.RMSNorm(out, x, w, 1, 1e-5) }, nil
	})
	act("rope", fmt.Sprintf("1×%d heads of %d", s.heads, s.hd), int64(8*qw), func(b engine.Backend) (func(), error) {
		r := &engine.Rope{HeadDim: s.hd, Heads: s.heads, Dims: s.hd, Freqs: make([]float64, s.hd/2)}
		for i := range r.Freqs {
			r.Freqs[i] = math.Pow(1e6, -2*float64(i)/float64(s.hd))
		}
		x, err := b.NewTensor(1, qw)
		if err != nil {
			return nil, err
		}
		return func() { b.RoPE(x, 1, 1000, r) }, nil
	})
	const ctx = 4096
	act("attention", fmt.Sprintf("decode at %d, %d/%d heads of %d", ctx, s.heads, s.kvHeads, s.hd), int64(2*4*ctx*kvw), func(b engine.Backend) (func(), error) {
		a := &engine.AttentionShape{Heads: s.heads, KVHeads: s.kvHeads, HeadDim: s.hd, Scale: float32(1 / math.Sqrt(float64(s.hd)))}
		c, err := b.NewCache(1, ctx, kvw)
		if err != nil {
			return nil, err
		}
		q, _ := b.NewTensor(1, qw)
		k, _ := b.NewTensor(1, kvw)
		v, _ := b.NewTensor(1, kvw)
		out, _ := b.NewTensor(1, qw)
		return func() { b.Attention(out, q, k, v, c, 0, ctx-1, 1, a) }, nil
	})
	act("swiglu", fmt.Sprintf("1×%d", s.ff), int64(12*s.ff), func(b engine.Backend) (func(), error) {
		g, _ := b.NewTensor(1, s.ff)
		u, _ := b.NewTensor(1, s.ff)
		return func() { b.SwiGLU(g, g, u, 1) }, nil
	})
	act("add", fmt.Sprintf("1×%d", s.embd), int64(12*s.embd), func(b engine.Backend) (func(), error) {
		x, _ := b.NewTensor(1, s.embd)
		y, _ := b.NewTensor(1, s.embd)
		return func() { b.Add(x, y, 1) }, nil
	})
	return cases
}

// best returns the smallest of n timings of run.
func best(n int, run func() (time.Duration, error)) (time.Duration, error) {
	d := time.Duration(math.MaxInt64)
	for range n + 1 { // the first run warms up
		t, err := run()
		if err != nil {
			return 0, err
		}
		d = min(d, t)
	}
	return d, nil
}

func benchKernels(c *cli.Context) error {
	repeats := max(c.Int("repeats"), 1)
	o, err := cpuOptions(c) // refuse bad -t or STRATA_CPU before starting Vulkan
	if err != nil {
		return err
	}
	gopt, err := gpuOptions(c)
	if err != nil {
		return err
	}
	g, err := gpu.New(gopt)
	if err != nil {
		return err
	}
	defer g.Close()
	timer := g.(gpu.Timer)
	rep := benchReport{Device: g.Device(), RepeatsEach: repeats}
	if bw, err := timer.CopyBandwidth(256 << 20); err == nil {
		rep.CopyGBs = bw / 1e9
	} else {
		return err
	}
	var cb engine.Backend
	if !c.Bool("no-cpu") {
		cb = newCPUBackend(o)
		defer cb.Close()
		rep.CPU = cb.Device()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var cases []kernelCase
	var models []string
	for _, name := range strings.Split(c.String("models"), ",") {
		shape, ok := benchShapes[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("--models: %q is not one of mistral-7b, magistral-small", name)
		}
		for _, k := range kernelCases(shape, rng) {
			cases = append(cases, k)
			models = append(models, shape.name)
		}
	}
	// The table's rows are printed as each is timed, in columns as wide
	// as the longest of what they will hold.
	table := newBenchTable(cases, models)
	if !c.Bool("json") {
		cpuName := rep.CPU
		if cb == nil {
			cpuName = "not timed (--no-cpu)"
		}
		fmt.Printf("vulkan: %s, buffer copy %.1f GB/s\ncpu: %s\n\n", rep.Device, rep.CopyGBs, cpuName)
		table.header()
	}
	for i, k := range cases {
		row := benchRow{Model: models[i], Kernel: k.kernel, Shape: k.shape, Bytes: k.bytes}
		if run, err := k.setup(g); err != nil {
			row.VulkanNote = err.Error()
		} else if d, err := best(repeats, func() (time.Duration, error) { return timer.Time(run) }); err != nil {
			row.VulkanNote = err.Error()
		} else {
			row.VulkanUS = float64(d.Nanoseconds()) / 1e3
			row.VulkanGBs = float64(k.bytes) / d.Seconds() / 1e9
			row.CopyPct = 100 * row.VulkanGBs / rep.CopyGBs
		}
		if cb != nil {
			if run, err := k.setup(cb); err == nil {
				d, _ := best(repeats, func() (time.Duration, error) {
					t0 := time.Now()
					run()
					return time.Since(t0), nil
				})
				row.CPUUS = float64(d.Nanoseconds()) / 1e3
				row.CPUGBs = float64(k.bytes) / d.Seconds() / 1e9
			}
		}
		rep.Rows = append(rep.Rows, row)
		if !c.Bool("json") {
			table.row(row)
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	for _, r := range rep.Rows {
		if r.VulkanNote != "" {
			fmt.Printf("%s %s %s: %s\n", r.Model, r.Kernel, r.Shape, r.VulkanNote)
		}
	}
	return nil
}

// benchTable prints bench kernels' rows one at a time, aligned: the
// columns are as wide as the widest of the names and of the numbers'
// headers.
type benchTable struct {
	model, kernel, shape int
}

var benchNumbers = []string{"vulkan µs", "vulkan GB/s", "% copy", "cpu µs", "cpu GB/s"}

func newBenchTable(cases []kernelCase, models []string) *benchTable {
	t := &benchTable{model: len("model"), kernel: len("kernel"), shape: len("shape")}
	for i, k := range cases {
		t.model = max(t.model, utf8.RuneCountInString(models[i]))
		t.kernel = max(t.kernel, utf8.RuneCountInString(k.kernel))
		t.shape = max(t.shape, utf8.RuneCountInString(k.shape))
	}
	return t
}

func (t *benchTable) line(cols ...string) {
	widths := []int{t.model, t.kernel, t.shape, 11, 11, 7, 10, 9}
	var b strings.Builder
	for i, s := range cols {
		pad := strings.Repeat(" ", max(widths[i]-utf8.RuneCountInString(s), 0))
		b.WriteString(" " + pad + s + " |")
	}
	fmt.Println(b.String())
}

func (t *benchTable) header() {
	t.line(append([]string{"model", "kernel", "shape"}, benchNumbers...)...)
}

func (t *benchTable) row(r benchRow) {
	vk := []string{fmt.Sprintf("%.1f", r.VulkanUS), fmt.Sprintf("%.2f", r.VulkanGBs), fmt.Sprintf("%.0f%%", r.CopyPct)}
	if r.VulkanNote != "" {
		vk = []string{"error", "-", "-"}
	}
	cpuCols := []string{"-", "-"}
	if r.CPUUS > 0 {
		cpuCols = []string{fmt.Sprintf("%.1f", r.CPUUS), fmt.Sprintf("%.2f", r.CPUGBs)}
	}
	t.line(append(append([]string{r.Model, r.Kernel, r.Shape}, vk...), cpuCols...)...)
}
