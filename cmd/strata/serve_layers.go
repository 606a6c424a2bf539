package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
	"strata/transport"
)

// An Assignment is the layers a peer serves: [Start, End), End one past
// the last, as engine.FragmentOptions takes them.
type Assignment struct{ Start, End int }

func (a Assignment) String() string { return fmt.Sprintf("%d-%d", a.Start, a.End-1) }

// parseAssignment reads --layers FIRST-LAST for a model of layers layers.
func parseAssignment(s string, layers int) (Assignment, error) {
	ranges, err := engine.ParseLayerRanges(s)
	if err != nil || len(ranges) != 1 || strings.TrimSpace(s) == "" {
		return Assignment{}, fmt.Errorf("--layers %s: want one range FIRST-LAST of the model's layers 0-%d, such as 0-%d", s, layers-1, layers/2)
	}
	a := Assignment{ranges[0][0], ranges[0][1]}
	if a.Start < 0 || a.End > layers {
		return Assignment{}, fmt.Errorf("--layers %s: the model has layers 0-%d", s, layers-1)
	}
	return a, nil
}

// A layerServer serves a range of layers of a whole model file, and can
// be assigned another range of it (Assign).
type layerServer struct {
	file    *gguf.File // the whole model, open while it serves
	backend engine.Backend
	cfg     engine.Config
	batch   int
	// partial, if set, holds only some layers' tensors of file: a range is
	// fetched into it (within ctx) before it is loaded.
	partial *partialModel
	ctx     context.Context

	mu     sync.Mutex // one assignment at a time
	server *transport.Server
}

// load checks that the weights of a fit beside those held already, and
// loads them onto the backend.
func (l *layerServer) load(a Assignment, held int64) (*engine.Fragment, error) {
	if a.Start < 0 || a.End <= a.Start || a.End > l.cfg.Layers {
		return nil, fmt.Errorf("layers %d to %d are not a range of the model's layers 0-%d", a.Start, a.End-1, l.cfg.Layers-1)
	}
	if err := checkMoreWeights(l.backend, l.file, a.Start, a.End, held); err != nil {
		return nil, fmt.Errorf("layers %s: %w", a, err)
	}
	if l.partial != nil {
		if err := l.partial.layers(l.ctx, l.file, l.cfg.Layers, a); err != nil {
			return nil, err
		}
	}
	return engine.NewFragment(l.file, l.backend, engine.FragmentOptions{Start: a.Start, End: a.End, Batch: l.batch})
}

// Assign makes the peer serve the layers of a: it loads them from the
// model file while the current ones go on serving (outside the backend's
// turns, which the server's requests take meanwhile), then switches
// (transport.Server.Reassign): new sessions get the new layers, sessions
// already open finish on the old ones, which are released when the last
// of them ends (within the server's drain). Until then both ranges'
// weights are held: Assign refuses an assignment whose weights would not
// fit in the machine's memory beside those held now.
func (l *layerServer) Assign(a Assignment) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var held int64
	for _, r := range l.server.Holding() {
		held += engine.WeightBytes(l.file, r[0], r[1], r[0] == 0, r[1] == l.cfg.Layers)
	}
	start := time.Now()
	frag, err := l.load(a, held)
	if err != nil {
		return err
	}
	if err := l.server.Reassign(frag); err != nil {
		frag.Close()
		return err
	}
	slog.Info("assigned layers", "layers", a.String(), "load_ms", time.Since(start).Milliseconds(), "weights_MiB", frag.WeightBytes()>>20)
	return nil
}

// serveLayers serves --layers of the whole model file at arg.
func serveLayers(c *cli.Context, arg string) error {
	if c.IsSet("fragment") {
		return fmt.Errorf("--fragment serves a fragment of a split model; %s is not one (a manifest.json or its directory): give --layers FIRST-LAST", arg)
	}
	if c.IsSet("fetch-from") {
		return fmt.Errorf("--fetch-from fetches a fragment of a split model; %s is a model file, served as it is", arg)
	}
	path, err := resolveModel(arg)
	if err != nil {
		return err
	}
	if err := serveLimits(c); err != nil {
		return err
	}
	return serveModelFile(c, path, "", nil)
}

// serveManifestLayers serves --layers (or the swarm's plan's layers) of
// the model m was split from: from the source file when it is in dir with
// the manifest's sha256, else from a partial copy of it whose layers are
// fetched from peers.
func serveManifestLayers(c *cli.Context, dir string, m *engine.Manifest) error {
	if err := serveLimits(c); err != nil {
		return err
	}
	source := filepath.Join(dir, m.Source.File)
	if st, err := os.Stat(source); err == nil && st.Size() == m.Source.Size {
		sum, err := modelSHA256(source)
		if err != nil {
			return err
		}
		if sum == m.Source.SHA256 {
			return serveModelFile(c, source, sum, nil)
		}
		slog.Warn("the file beside the manifest is not the model it was split from; fetching the layers instead", "file", source, "sha256", sum, "manifest", m.Source.SHA256)
	}
	from := splitList(c.String("fetch-from"))
	if len(from) == 0 && !joining(c) {
		return fmt.Errorf("%s is not beside the manifest: give --fetch-from ADDRS, peers serving the whole model, to fetch the layers' tensors from", m.Source.File)
	}
	id, swarm, err := nodeCredentials(c)
	if err != nil {
		return err
	}
	p, err := newPartialModel(m, dir, id, swarm, c.Duration("fetch-stall-timeout"))
	if err != nil {
		return err
	}
	p.sources = func() []string { return from }
	if !p.state().Header {
		if len(from) == 0 {
			// A swarm's peer asks the swarm who holds the model
			// (serveSwarm asks it again for each range it is given).
			if from, err = swarmHolders(c, id, swarm, m.Source.SHA256); err != nil {
				return err
			}
		}
		if err := p.fetchHeader(c.Context); err != nil {
			return err
		}
	}
	return serveModelFile(c, p.path, m.Source.SHA256, p)
}

// serveModelFile serves --layers (or the swarm's plan's layers) of the
// whole model file at path, whose sha256 is sum ("": hashed here, once
// the file is known to be a whole model); a partial one fetches the
// tensors of the layers it is to serve first. A whole file is handed to
// peers that fetch from this one.
func serveModelFile(c *cli.Context, path, sum string, partial *partialModel) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if frag, ok := engine.FragmentFile(f); ok {
		return fmt.Errorf("%s is %s of a split model: serve it with its manifest (the directory holding it) and --fragment", path, frag)
	}
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		return err
	}
	a := Assignment{0, cfg.Layers}
	if c.IsSet("layers") && joining(c) {
		return fmt.Errorf("--layers with a swarm to join: the swarm's plan gives each peer its layers")
	}
	if c.IsSet("layers") {
		if a, err = parseAssignment(c.String("layers"), cfg.Layers); err != nil {
			return err
		}
	}
	id, swarm, err := nodeCredentials(c)
	if err != nil {
		return err
	}
	if sum == "" {
		if sum, err = modelSHA256(path); err != nil {
			return err
		}
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
	l := &layerServer{file: f, backend: backend, cfg: cfg, batch: batch, partial: partial, ctx: c.Context}
	o := transport.ServerOptions{Identity: id, Swarm: swarm, ModelSHA256: sum}
	if partial == nil {
		o.Files = map[string]string{sum: path}
	}
	if joining(c) {
		return serveSwarm(c, l, o, sum)
	}
	frag, err := l.load(a, 0)
	if err != nil {
		return err
	}
	layers, ctxSize := a.End-a.Start, c.Int("ctx-size")
	if err := checkMemory(&frag.Config, layers, ctxSize, batch, fmt.Sprintf("--ctx-size %d", ctxSize)); err != nil {
		return err
	}
	warnSessions(&frag.Config, layers, ctxSize, batch, c.Int("max-sessions"))
	_, err = serveUntilInterrupt(c, frag, o, func(s *transport.Server) { l.server = s }, "model", sum[:12])
	return err
}
