package main

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
)

// localWitnesses opens, on demand, the fragments of a split that lie
// beside its manifest on this machine's CPU, so that a route can check
// its peers against them (--verify-rate). A fragment whose file is
// missing, or whose sha256 differs from the manifest's, is no witness.
type localWitnesses struct {
	c        *cli.Context
	dir      string
	manifest *engine.Manifest

	mu    sync.Mutex
	open  map[string]*engine.Fragment
	close []func()
}

func newLocalWitnesses(c *cli.Context, manifest string, m *engine.Manifest) *localWitnesses {
	return &localWitnesses{c: c, dir: filepath.Dir(manifest), manifest: m, open: map[string]*engine.Fragment{}}
}

// fragment is transport.RouteOptions.Witness.
func (w *localWitnesses) fragment(sum string) (*engine.Fragment, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, ok := w.open[sum]; ok {
		return f, nil
	}
	w.open[sum] = nil // one try per fragment
	for _, fr := range w.manifest.Fragments {
		if fr.SHA256 != sum {
			continue
		}
		path := filepath.Join(w.dir, fr.File)
		got, err := engine.HashFile(path)
		if err != nil {
			return nil, err
		}
		if got != sum {
			return nil, fmt.Errorf("%s: sha256 %.12s…, the manifest says %.12s…", fr.File, got, sum)
		}
		file, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		o, err := cpuOptions(w.c)
		if err != nil {
			file.Close()
			return nil, err
		}
		b := newCPUBackend(o)
		frag, err := engine.NewFragment(file, b, engine.FragmentOptions{})
		if err != nil {
			b.Close()
			file.Close()
			return nil, err
		}
		w.open[sum] = frag
		w.close = append(w.close, func() { b.Close(); file.Close() })
		return frag, nil
	}
	return nil, nil
}

func (w *localWitnesses) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.close {
		f()
	}
}
