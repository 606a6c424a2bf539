package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"strata/hub"
)

func pullCommand() *cli.Command {
	var aliases []string
	for a, n := range hub.Aliases {
		aliases = append(aliases, "  "+a+" = "+n)
	}
	sort.Strings(aliases)
	return &cli.Command{
		Name:      "pull",
		Usage:     "download a model from Hugging Face into the hub cache",
		ArgsUsage: "REPO[:QUANT|:FILE] | ALIAS",
		Description: "Downloads a GGUF model (every part of a split one) from the main branch of a Hugging Face\n" +
			"repository into the hub cache (HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), which\n" +
			"llama.cpp's -hf and huggingface-cli share. QUANT picks the file whose name ends with it (default Q4_K_M);\n" +
			"FILE names one. An interrupted pull resumes; each file is checked against its sha256. HF_TOKEN is sent\n" +
			"for gated and private repositories, HF_ENDPOINT replaces https://huggingface.co. The path of the model's\n" +
			"file is printed on stdout; run, chat and server then take the name as MODEL.\n\nAliases:\n" +
			strings.Join(aliases, "\n"),
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "connections", Value: 4, Usage: "fetch each file in up to `N` parallel ranges"},
			&cli.DurationFlag{Name: "stall-timeout", Value: 30 * time.Second, Usage: "ask again for a range that brings no byte for `DURATION`"},
		},
		Action: pull,
	}
}

func pull(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("pull takes one model name, got %d (see 'strata pull --help')", c.NArg())
	}
	if n := c.Int("connections"); n < 1 || n > 64 {
		return fmt.Errorf("--connections %d: want 1 to 64", n)
	}
	if d := c.Duration("stall-timeout"); d < time.Second {
		return fmt.Errorf("--stall-timeout %v: want 1s or more", d)
	}
	name, err := hub.ParseName(c.Args().First())
	if err != nil {
		return err
	}
	cache, err := hub.OpenCache()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	progress := hub.NewProgress(os.Stderr, slog.Default())
	p := &hub.Puller{Client: hub.NewClient(), Cache: cache, Progress: progress,
		Connections: c.Int("connections"), Stall: c.Duration("stall-timeout")}
	start := time.Now()
	r, err := p.Pull(ctx, name)
	progress.Wait()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("pull of %s stopped; what came is kept in %s and the next pull resumes it", name, cache.RepoDir(name.Repo))
		}
		return err
	}
	took := time.Since(start)
	slog.Info("pulled", "model", r.Model.Name, "files", len(r.Model.Paths), "size", sizeString(r.Model.Size()),
		"fetched", sizeString(r.Fetched), "in_cache_before", sizeString(r.Reused), "took", took.Round(time.Millisecond),
		"speed", hub.Speed(r.Fetched, took))
	fmt.Println(r.Model.Paths[0])
	return nil
}
