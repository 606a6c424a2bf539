package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"strata/api"
	"strata/engine"
	"strata/gguf"
)

// A library is what 'strata server --models-dir DIR' serves: the models
// 'strata list --models-dir DIR' lists (the hub cache's and DIR's GGUF
// files and split manifests), by the names it gives them, each planned
// as 'strata server MODEL' would load it (-np slots, -c or the context
// that fits) within the memory budget.
type library struct {
	c      *cli.Context
	ctx    context.Context // the server's, for routes through peers
	dir    string
	budget int64
	source string // what set the budget

	mu    sync.Mutex
	plans map[string]modelPlan // by name, as of the latest listing
}

// A modelPlan is how a listed model is loaded.
type modelPlan struct {
	path     string
	manifest bool
	context  int // a local model's context, 0 through peers
}

// Models lists every model, with the memory it takes or why it cannot be
// served.
func (l *library) Models() ([]api.Entry, error) {
	rows, _, err := listModels(l.dir)
	if err != nil {
		return nil, err
	}
	plans := map[string]modelPlan{}
	entries := make([]api.Entry, 0, len(rows))
	for _, row := range rows {
		e, p := l.plan(row)
		if _, dup := plans[e.ID]; dup {
			continue // the hub cache's name comes first
		}
		plans[e.ID] = p
		entries = append(entries, e)
	}
	l.mu.Lock()
	l.plans = plans
	l.mu.Unlock()
	return entries, nil
}

// plan is the entry of a listed model and how it loads.
func (l *library) plan(row listedModel) (api.Entry, modelPlan) {
	e := api.Entry{ID: row.Name, Error: row.Error}
	if st, err := os.Stat(row.Path); err == nil {
		e.Created = st.ModTime().Unix()
	}
	p := modelPlan{path: row.Path, manifest: filepath.Base(row.Path) == "manifest.json"}
	switch {
	case e.Error != "":
		return e, p
	case p.manifest:
		e.Memory, e.Needs, e.Error = l.peerNeeds(row.Path)
	case row.Files > 1:
		e.Error = fmt.Sprintf("a GGUF split into %d files: strata reads a model from one file; join them with llama.cpp's 'llama-gguf-split --merge %s OUT.gguf'", row.Files, row.Path)
	default:
		e.Memory, e.Needs, p.context, e.Error = l.localNeeds(row.Path)
	}
	return e, p
}

// localNeeds is the memory a model file takes served locally: its
// weights, every slot's KV cache of the context it gets (-c, else the
// trained context cut to fit the budget as 'server MODEL' cuts it to fit
// the machine), the activations of a batch, and with several slots the
// scratch of batching them (engine.Config.Memory).
func (l *library) localNeeds(path string) (int64, string, int, string) {
	f, err := gguf.Open(path)
	if err != nil {
		return 0, "", 0, err.Error()
	}
	defer f.Close()
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		return 0, "", 0, err.Error()
	}
	if frag, ok := engine.FragmentFile(f); ok {
		return 0, "", 0, fmt.Sprintf("%s of a split model: serve its manifest.json through --peers", frag)
	}
	if len(f.Tensors) == 0 {
		return 0, "", 0, "it holds no tensors (a vocabulary-only GGUF?)"
	}
	var weights int64
	for _, t := range f.Tensors {
		weights += int64(t.Size)
	}
	batch, slots := l.c.Int("batch-size"), l.c.Int("parallel")
	n := l.c.Int("ctx-size")
	if n == 0 {
		n, _ = fitContext(&cfg, cfg.Layers, weights, batch, slots, l.budget)
	}
	m := cfg.Memory(cfg.Layers, n, batch)
	total := sumSizes(weights, m.Activations, m.KV*int64(slots))
	needs := fmt.Sprintf("weights %s, %d × the KV cache %s (%d layers × %d positions × %d values × 4 bytes × 2), activations %s (batches of %d)",
		engine.Bytes(weights), slots, engine.Bytes(m.KV), m.Layers, n, m.KVWidth, engine.Bytes(m.Activations), batch)
	if slots > 1 {
		total = sumSizes(total, m.Batching)
		needs += fmt.Sprintf(", batching %s", engine.Bytes(m.Batching))
	}
	return total, needs, n, ""
}

// peerNeeds is the memory a split model takes here, served through
// --peers (which hold its weights and KV caches): each slot's row of
// logits.
func (l *library) peerNeeds(manifest string) (int64, string, string) {
	if !l.c.IsSet("peers") {
		return 0, "", "a split model ('strata split'): start the server with --peers ADDRS --swarm FILE to serve it through peers"
	}
	man, err := engine.ReadManifest(manifest)
	if err != nil {
		return 0, "", err.Error()
	}
	f, err := gguf.Open(filepath.Join(filepath.Dir(manifest), man.Fragments[0].File))
	if err != nil {
		return 0, "", err.Error()
	}
	defer f.Close()
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		return 0, "", err.Error()
	}
	slots := l.c.Int("parallel")
	m := cfg.Memory(0, 0, 1)
	return m.Activations * int64(slots), fmt.Sprintf("%d × a row of logits and a position's activations, %s (the peers hold the weights and KV caches)",
		slots, engine.Bytes(m.Activations)), ""
}

// sumSizes adds sizes, saturating as engine's sizes do.
func sumSizes(sizes ...int64) int64 {
	var n int64
	for _, s := range sizes {
		if n > 1<<62-s {
			return 1 << 62
		}
		n += s
	}
	return n
}

// Load loads a model the latest listing named.
func (l *library) Load(ctx context.Context, id string) (*api.Model, func(), error) {
	l.mu.Lock()
	p, ok := l.plans[id]
	l.mu.Unlock()
	if !ok {
		return nil, nil, fmt.Errorf("model %q is not in the listing", id)
	}
	if p.manifest {
		return peerModel(l.c, l.ctx, p.path)
	}
	return localModel(l.c, p.path, p.context)
}

// budgetFlag reads --models-memory: a size, or auto (3/4 of the memory
// the machine, its cgroup or STRATA_MEMORY gives, as much as 'run' plans
// a model and its KV cache for). It says what set it.
func budgetFlag(c *cli.Context) (int64, string, error) {
	s := c.String("models-memory")
	if s == "" || strings.EqualFold(s, "auto") {
		have, source := engine.MachineMemory()
		return have / 4 * 3, fmt.Sprintf("--models-memory auto: 3/4 of %s, %s", source, engine.Bytes(have)), nil
	}
	n, err := engine.ParseSize(s)
	if err != nil || n <= 0 {
		return 0, "", fmt.Errorf("--models-memory %s: want a size in bytes, or with a unit (512M, 16G), or auto", s)
	}
	return n, "--models-memory " + s, nil
}
