package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// benchModelCommand is 'strata bench model', in llama-bench's form.
func benchModelCommand() *cli.Command {
	return &cli.Command{
		Name:      "model",
		Usage:     "time prompt processing and generation of a model, as llama-bench does",
		ArgsUsage: "MODEL",
		Description: "ppN evaluates a prompt of N tokens in one pass from an empty context; tgN generates\n" +
			"N tokens one at a time from an empty context. Each test runs once to warm up, then -r\n" +
			"times; t/s is the mean over the runs, ± their standard deviation.",
		OnUsageError: usageError,
		Flags: append([]cli.Flag{
			modelFlag(),
			&cli.StringFlag{Name: "n-prompt", Aliases: []string{"p"}, Value: "128", Usage: "prompt lengths `N[,N…]` to time (0: none)"},
			&cli.StringFlag{Name: "n-gen", Aliases: []string{"n"}, Value: "32", Usage: "generation lengths `N[,N…]` to time (0: none)"},
			&cli.IntFlag{Name: "repetitions", Aliases: []string{"r"}, Value: 3, Usage: "runs of each test"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		}, backendFlags()...),
		Action: benchModel,
	}
}

type benchModelRow struct {
	Model   string    `json:"model"`
	Size    int64     `json:"size"`
	Params  int64     `json:"params"`
	Backend string    `json:"backend"`
	Device  string    `json:"device"`
	Threads int       `json:"threads"`
	Test    string    `json:"test"`
	Mean    float64   `json:"avg_ts"`
	SD      float64   `json:"stddev_ts"`
	Samples []float64 `json:"samples_ts"`
}

func benchModel(c *cli.Context) error {
	path, err := onePath(c)
	if err != nil {
		return err
	}
	prompts, err := lengths(c, "n-prompt")
	if err != nil {
		return err
	}
	gens, err := lengths(c, "n-gen")
	if err != nil {
		return err
	}
	if c.Int("repetitions") < 1 {
		return fmt.Errorf("-r %d: repetitions must be at least 1", c.Int("repetitions"))
	}
	m, err := openModel(c, path)
	if err != nil {
		return err
	}
	defer m.Close()
	need, flag := 1, ""
	for _, n := range prompts {
		if n > need {
			need, flag = n, fmt.Sprintf("-p %d", n)
		}
	}
	for _, n := range gens {
		if n > need {
			need, flag = n, fmt.Sprintf("-n %d", n)
		}
	}
	s, err := m.newSession(need, flag)
	if err != nil {
		return err
	}
	defer s.Close()

	cfg := &m.frag.Config
	base := benchModelRow{
		Model: modelDescription(m, path), Size: m.frag.WeightBytes(), Params: parameters(m),
		Backend: m.backend.Name(), Device: m.backend.Device(), Threads: c.Int("threads"),
	}
	if base.Threads == 0 {
		base.Threads = runtime.NumCPU()
	}
	logits := make([]float32, cfg.Vocab)
	var rows []benchModelRow
	for _, p := range prompts {
		tokens := make([]int32, p)
		for i := range tokens {
			tokens[i] = int32(1 + (i*7919)%(cfg.Vocab-1))
		}
		row, err := timeTest(c, base, fmt.Sprintf("pp%d", p), p, func() error {
			s.Truncate(0)
			return s.Eval(logits, tokens)
		})
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	for _, n := range gens {
		tok := []int32{1}
		row, err := timeTest(c, base, fmt.Sprintf("tg%d", n), n, func() error {
			s.Truncate(0)
			for range n {
				if err := s.Eval(logits, tok); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		rows = append(rows, row)
	}
	if c.Bool("json") {
		return json.NewEncoder(os.Stdout).Encode(rows)
	}
	fmt.Println("| model | size | params | backend | threads | test | t/s |")
	fmt.Println("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s | %d | %s | %.2f ± %.2f |\n", r.Model, sizeString(r.Size),
			paramString(r.Params), r.Backend, r.Threads, r.Test, r.Mean, r.SD)
	}
	fmt.Printf("\ndevice: %s\n", base.Device)
	return nil
}

// timeTest runs f once to warm up, then -r times, each processing n tokens.
func timeTest(c *cli.Context, row benchModelRow, test string, n int, f func() error) (benchModelRow, error) {
	if err := f(); err != nil {
		return row, fmt.Errorf("%s: %w", test, err)
	}
	row.Test = test
	var sum float64
	for range c.Int("repetitions") {
		start := time.Now()
		if err := f(); err != nil {
			return row, fmt.Errorf("%s: %w", test, err)
		}
		ts := float64(n) / time.Since(start).Seconds()
		row.Samples = append(row.Samples, ts)
		sum += ts
	}
	row.Mean = sum / float64(len(row.Samples))
	if len(row.Samples) > 1 {
		var v float64
		for _, x := range row.Samples {
			v += (x - row.Mean) * (x - row.Mean)
		}
		row.SD = math.Sqrt(v / float64(len(row.Samples)-1))
	}
	return row, nil
}

// lengths parses a comma-separated list of token counts; 0 alone means none.
func lengths(c *cli.Context, flag string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(c.String(flag), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--%s %q: want token counts, as 128 or 64,512", flag, c.String(flag))
		}
		if n > 0 {
			out = append(out, n)
		}
	}
	return out, nil
}

// modelDescription names a model: its general.name, or its file's base name.
func modelDescription(m *model, path string) string {
	name, err := m.file.String("general.name")
	if err != nil || name == "" {
		name = strings.TrimSuffix(filepath.Base(path), ".gguf")
	}
	return name
}

// parameters counts the elements of the model's tensors.
func parameters(m *model) int64 {
	var n int64
	for i := range m.file.Tensors {
		n += int64(m.file.Tensors[i].Elements())
	}
	return n
}

func sizeString(b int64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
}

func paramString(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f B", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	}
	return strconv.FormatInt(n, 10)
}
