package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
	"strata/gpu"
)

// backendFlags are the flags of commands that compute.
func backendFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backend", Value: "auto", Usage: "compute on `BACKEND`: auto (a Vulkan GPU when one works, else the CPU), vulkan or cpu"},
		&cli.IntFlag{Name: "device", Value: -1, Usage: "Vulkan device `N` as 'strata devices' lists them (-1: the best)"},
		&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "CPU worker threads (0: one per logical CPU)"},
		&cli.IntFlag{Name: "batch-size", Aliases: []string{"b"}, Value: engine.DefaultBatch, Usage: "prompt positions computed per pass"},
		&cli.BoolFlag{Name: "mmap", Usage: "CPU: compute from the model file's memory mapping (starts sooner, shares the pages with other processes; decodes large models slower)"},
		&cli.BoolFlag{Name: "no-mmap", Usage: "CPU: copy the weights into huge pages of strata's own (the default)"},
	}
}

// openBackend starts the backend the flags ask for. auto takes Vulkan
// when a device works and otherwise says why, in one line, and computes
// on the CPU.
func openBackend(c *cli.Context) (engine.Backend, error) {
	o, err := cpuOptions(c)
	if err != nil {
		return nil, err
	}
	newCPU := func() engine.Backend { return newCPUBackend(o) }
	g, err := gpuOptions(c)
	if err != nil {
		return nil, err
	}
	switch name := c.String("backend"); name {
	case "auto":
		g.GPUOnly = true
		b, err := gpu.New(g)
		if err != nil {
			slog.Info("using the cpu backend: " + oneLine(err.Error()))
			return newCPU(), nil
		}
		return b, nil
	case "vulkan":
		return gpu.New(g)
	case "cpu":
		return newCPU(), nil
	default:
		return nil, fmt.Errorf("--backend %q: want auto, vulkan or cpu", name)
	}
}

// gpuOptions are the Vulkan backend's options from the flags and from
// STRATA_VK_PROFILE, which makes the device take another device's code
// paths (gpu.ProfileEnv).
func gpuOptions(c *cli.Context) (gpu.Options, error) {
	o := gpu.Options{Device: c.Int("device"), Profile: os.Getenv(gpu.ProfileEnv)}
	if err := o.Validate(); err != nil {
		return gpu.Options{}, fmt.Errorf("%s: %w", gpu.ProfileEnv, err)
	}
	return o, nil
}

// cpuOptions are the CPU backend's options from the flags and from
// STRATA_CPU, which forces a kernel variant (generic, avx2, avx512).
func cpuOptions(c *cli.Context) (cpu.Options, error) {
	if c.Int("threads") < 0 {
		return cpu.Options{}, fmt.Errorf("-t %d: threads must be 0 or more", c.Int("threads"))
	}
	// More workers than cores only add wake-ups and per-worker scratch.
	if most := 8 * runtime.NumCPU(); c.Int("threads") > most {
		return cpu.Options{}, fmt.Errorf("-t %d: at most %d (8 × the %d logical CPUs)", c.Int("threads"), most, runtime.NumCPU())
	}
	if c.Bool("mmap") && c.Bool("no-mmap") {
		return cpu.Options{}, errors.New("--mmap and --no-mmap: give one")
	}
	o := cpu.Options{Threads: c.Int("threads"), Kernels: os.Getenv("STRATA_CPU"), Mmap: c.Bool("mmap")}
	if err := o.Validate(); err != nil {
		return cpu.Options{}, fmt.Errorf("STRATA_CPU: %w", err)
	}
	return o, nil
}

// newCPUBackend starts a CPU backend and logs which kernels it runs.
func newCPUBackend(o cpu.Options) *cpu.Backend {
	b := cpu.New(o)
	slog.Debug("cpu backend", "device", b.Device(), "kernels", b.Kernels())
	return b
}

// batchFlag reads -b, which must be positive.
func batchFlag(c *cli.Context) (int, error) {
	n := c.Int("batch-size")
	if n <= 0 {
		return 0, fmt.Errorf("-b %d: batch size must be positive", n)
	}
	return n, nil
}

// batchSize reads -b, checked against the memory its activations take.
func batchSize(c *cli.Context, cfg *engine.Config) (int, error) {
	n, err := batchFlag(c)
	if err != nil {
		return 0, err
	}
	return n, checkMemory(cfg, cfg.Layers, 0, n, "")
}

// model is an opened model file with its whole-model fragment.
type model struct {
	file    *gguf.File
	vocab   *engine.Vocab
	backend engine.Backend
	frag    *engine.Fragment
	batch   int
}

func (m *model) Close() {
	if m.backend != nil {
		m.backend.Close()
	}
	m.file.Close()
}

// openModel opens path and loads all its layers on the chosen backend.
func openModel(c *cli.Context, path string) (*model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m := &model{file: f}
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		m.Close()
		return nil, err
	}
	if frag, ok := engine.FragmentFile(f); ok {
		start, _ := f.Int(engine.KeyFragmentStart)
		end, _ := f.Int(engine.KeyFragmentEnd)
		if start != 0 || int(end) != cfg.Layers {
			m.Close()
			return nil, fmt.Errorf("%s is %s of a split model: run its manifest.json (the directory holding it) through --peers", path, frag)
		}
	}
	if m.batch, err = batchSize(c, &cfg); err != nil {
		m.Close()
		return nil, err
	}
	if m.backend, err = openBackend(c); err != nil {
		m.Close()
		return nil, err
	}
	if err := checkWeights(m.backend, f, 0, cfg.Layers); err != nil {
		m.Close()
		return nil, err
	}
	what := "loading " + filepath.Base(path)
	if m.backend.Name() != "cpu" {
		what = "uploading " + filepath.Base(path) + " to " + m.backend.Device()
	}
	var bar *meter
	m.frag, err = engine.NewFragment(f, m.backend, engine.FragmentOptions{Batch: m.batch, Progress: func(done, total int64) {
		if bar == nil {
			bar = newMeter(what, total, meterBytes)
		}
		bar.set(done)
	}})
	if err != nil {
		bar.abort()
		m.Close()
		return nil, err
	}
	bar.finish()
	slog.Debug("model loaded", "path", path, "layers", m.frag.Config.Layers,
		"weights_MiB", m.frag.WeightBytes()>>20, "backend", m.backend.Name(), "device", m.backend.Device())
	return m, nil
}

// modelFlag is -m, llama.cpp's way to name the model, beside the
// positional MODEL.
func modelFlag() cli.Flag {
	return &cli.StringFlag{Name: "model", Aliases: []string{"m"}, Usage: "the model `PATH` (or give it as the argument)"}
}

// onePath returns the model: -m MODEL, or the single positional argument.
func onePath(c *cli.Context) (string, error) {
	name := c.Command.Name
	if m := c.String("model"); m != "" {
		if c.NArg() > 0 {
			return "", fmt.Errorf("%s: give the model once, with -m or as the argument (got -m %s and %s)", name, m, strings.Join(c.Args().Slice(), " "))
		}
		return m, nil
	}
	if c.NArg() != 1 {
		how := "one MODEL argument"
		if hasFlag(c, "model") {
			how = "one MODEL argument (or -m MODEL)"
		}
		return "", fmt.Errorf("%s takes %s, got %d (see 'strata %s --help')", name, how, c.NArg(), name)
	}
	return c.Args().First(), nil
}

// hasFlag reports whether the command defines the flag name.
func hasFlag(c *cli.Context, name string) bool {
	for _, f := range c.Command.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// manifestPath reports whether path names a split model, as run, chat,
// server, verify and serve take it: its manifest.json, or the directory
// that holds it ('strata split -o DIR'). It returns the manifest's path.
func manifestPath(path string) (string, bool) {
	if strings.HasSuffix(path, ".json") {
		return path, true
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return filepath.Join(path, "manifest.json"), true
	}
	return path, false
}

// openSession opens a model with its vocabulary and a session of the
// context -c asks for.
func openSession(c *cli.Context, path string) (*model, *engine.Session, error) {
	m, err := openModel(c, path)
	if err != nil {
		return nil, nil, err
	}
	if m.vocab, err = engine.VocabFrom(m.file); err != nil {
		m.Close()
		return nil, nil, err
	}
	n, err := contextSize(c, m.frag, m.batch, 1)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	s, err := m.newSession(n, fmt.Sprintf("-c %d", n))
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// newSession starts a session of context positions, once their KV cache
// is known to fit in memory; flag names what asked for them ("-c 4096").
func (m *model) newSession(context int, flag string) (*engine.Session, error) {
	if err := checkMemory(&m.frag.Config, m.frag.End-m.frag.Start, context, m.batch, flag); err != nil {
		return nil, err
	}
	return m.frag.NewSession(context)
}
