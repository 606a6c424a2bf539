package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
	"strata/transport"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve one fragment of a split model, or a range of layers of a model file, to the swarm",
		ArgsUsage: "DIR | DIR/manifest.json | MODEL",
		Description: "DIR holds manifest.json (from 'strata split'); give either, with the fragment's number. Its sha256 is checked against\n" +
			"the manifest before anything is served; a missing file can be fetched from --fetch-from peers.\n" +
			"MODEL is a whole GGUF file (or a model pulled by 'strata pull'): --layers FIRST-LAST serves those layers of it\n" +
			"(all of them by default), no file cut. Peers name the model by the file's sha256, hashed once and cached.\n" +
			"With --join ADDRS, --discover or --gossip-addr, and no --layers, the peer measures itself, joins the swarm's\n" +
			"gossip and serves the layers the swarm's plan gives it, moving as later plans say.\n" +
			"A manifest with --layers or a swarm to join serves any layers of the model it was split from: from that file\n" +
			"if it is beside the manifest, or else from DIR/SOURCE.partial, into which the layers' tensors are fetched from\n" +
			"--fetch-from peers (or the swarm's) that serve the whole file, each checked against the manifest's hashes.",
		OnUsageError: usageError,
		Flags: append(append([]cli.Flag{
			// A string, so that the help shows no default: it has none.
			&cli.StringFlag{Name: "fragment", Usage: "serve fragment `I` of the manifest, as 'strata split' numbers them (a manifest needs this, --layers or a swarm to join)"},
			&cli.StringFlag{Name: "layers", Usage: "serve layers `FIRST-LAST` of the MODEL file, or of the model a manifest was split from, inclusive, as 'strata split --layers' writes them (default for a MODEL: all)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "listen on `ADDR` (UDP host:port)"},
			&cli.StringFlag{Name: "addr-file", Usage: "once listening, write the address to `FILE`"},
			&cli.IntFlag{Name: "max-sessions", Value: 16, Usage: "sessions held at once"},
			&cli.IntFlag{Name: "sessions-per-peer", Usage: "sessions one identity may hold at once (default: half of --max-sessions)"},
			&cli.IntFlag{Name: "conns-per-peer", Value: 16, Usage: "connections one identity may hold open at once"},
			&cli.IntFlag{Name: "ctx-size", Aliases: []string{"c"}, Value: 4096, Usage: "positions a session can hold"},
			&cli.DurationFlag{Name: "idle-timeout", Value: 10 * time.Minute, Usage: "end sessions unused this long"},
			&cli.StringFlag{Name: "fetch-from", Usage: "comma-separated peer `ADDRS` to fetch a missing fragment file, or the tensors of the layers served, from"},
			&cli.DurationFlag{Name: "fetch-stall-timeout", Value: 30 * time.Second, Usage: "leave a --fetch-from peer that sends no byte for `DURATION` for the next"},
		}, swarmFlags()...), append(joinFlags(), backendFlags()...)...),
		Action: serve,
	}
}

func serve(c *cli.Context) error {
	arg, err := onePath(c)
	if err != nil {
		return err
	}
	manifest, ok := manifestPath(arg)
	if !ok {
		return serveLayers(c, arg)
	}
	anyLayers := joining(c) || c.IsSet("layers")
	switch {
	case anyLayers && c.IsSet("fragment"):
		return fmt.Errorf("--fragment serves one of the manifest's files; --layers or a swarm's plan serve any layers: give one")
	case !anyLayers && !c.IsSet("fragment"):
		return fmt.Errorf("serving a split model needs --fragment I (which of its fragments), or --layers FIRST-LAST (any layers, fetched from --fetch-from peers)")
	}
	dir := filepath.Dir(manifest)
	m, err := engine.ReadManifest(manifest)
	if err != nil {
		return err
	}
	if anyLayers {
		return serveManifestLayers(c, dir, m)
	}
	i, err := strconv.Atoi(c.String("fragment"))
	if err != nil || i < 0 || i >= len(m.Fragments) {
		if len(m.Fragments) == 1 {
			return fmt.Errorf("--fragment %s: the manifest has fragment 0 alone", c.String("fragment"))
		}
		return fmt.Errorf("--fragment %s: the manifest has fragments 0 to %d", c.String("fragment"), len(m.Fragments)-1)
	}
	fr := m.Fragments[i]
	if err := serveLimits(c); err != nil {
		return err
	}
	id, swarm, err := nodeCredentials(c)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, fr.File)
	fetched := false // a fetched file was checked as it came
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && c.String("fetch-from") != "" {
		if err := fetchFragment(c, path, fr, id, swarm); err != nil {
			return err
		}
		fetched = true
	}
	if !fetched {
		sum, err := engine.HashFile(path)
		if err != nil {
			return err
		}
		if sum != fr.SHA256 {
			return fmt.Errorf("fragment %d (%s): sha256 is %s, the manifest says %s: refusing to serve it", i, fr.File, sum, fr.SHA256)
		}
	}
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		return err
	}
	batch, err := batchSize(c, &cfg)
	if err != nil {
		return err
	}
	backend, err := openBackend(c)
	if err != nil {
		return err
	}
	defer backend.Close()
	start, _ := f.Int(engine.KeyFragmentStart)
	end, err := f.Int(engine.KeyFragmentEnd)
	if err != nil {
		end = int64(cfg.Layers)
	}
	if err := checkWeights(backend, f, int(start), int(end)); err != nil {
		return err
	}
	frag, err := engine.NewFragment(f, backend, engine.FragmentOptions{Batch: batch})
	if err != nil {
		return err
	}
	layers, ctxSize := frag.End-frag.Start, c.Int("ctx-size")
	if err := checkMemory(&frag.Config, layers, ctxSize, batch, fmt.Sprintf("--ctx-size %d", ctxSize)); err != nil {
		return err
	}
	warnSessions(&frag.Config, layers, ctxSize, batch, c.Int("max-sessions"))
	if frag.Start != fr.Start || frag.End != fr.End {
		slog.Warn("the manifest gives this fragment other layers than its file", "fragment", i,
			"manifest", fmt.Sprintf("%d-%d", fr.Start, fr.End-1), "file", fmt.Sprintf("%d-%d", frag.Start, frag.End-1))
	}
	_, err = serveUntilInterrupt(c, frag, transport.ServerOptions{
		Identity: id, Swarm: swarm, Fragment: i, SHA256: fr.SHA256, ModelSHA256: m.Source.SHA256,
		Files: map[string]string{fr.SHA256: path},
	}, nil, "fragment", i)
	return err
}

// serveUntilInterrupt serves frag with the limits serve's flags give, on
// --listen, writing the address to --addr-file, until an interrupt; it
// calls ready, if set, with the server once it listens. args are logged.
func serveUntilInterrupt(c *cli.Context, frag *engine.Fragment, o transport.ServerOptions, ready func(*transport.Server), args ...any) (*transport.Server, error) {
	s, err := newServer(c, frag, o)
	if err != nil {
		return nil, err
	}
	ln, err := transport.Listen(c.String("listen"), o.Identity)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	addr := ln.Addr().String()
	if p := c.String("addr-file"); p != "" {
		if err := writeAddr(p, addr); err != nil {
			return nil, err
		}
	}
	b := frag.Backend()
	slog.Info("serving", append(append([]any{"addr", addr, "id", o.Identity.ID()}, args...),
		"layers", fmt.Sprintf("%d-%d", frag.Start, frag.End-1), "backend", b.Name(), "device", b.Device())...)
	if ready != nil {
		ready(s)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return s, s.Serve(ctx, ln)
}

// newServer serves frag with the limits the flags set.
func newServer(c *cli.Context, frag *engine.Fragment, o transport.ServerOptions) (*transport.Server, error) {
	o.MaxSessions, o.SessionsPerIdentity, o.ConnsPerIdentity = c.Int("max-sessions"), c.Int("sessions-per-peer"), c.Int("conns-per-peer")
	o.MaxContext, o.IdleTimeout = c.Int("ctx-size"), c.Duration("idle-timeout")
	return transport.NewServer(frag, o)
}

// serveLimits checks the sizes serve is given before anything is read.
func serveLimits(c *cli.Context) error {
	if err := checkContext("--ctx-size", c.Int("ctx-size")); err != nil {
		return err
	}
	if n := c.Int("max-sessions"); n <= 0 {
		return fmt.Errorf("--max-sessions %d: want 1 or more", n)
	}
	_, err := batchFlag(c)
	return err
}
