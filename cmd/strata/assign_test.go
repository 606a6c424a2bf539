package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
	"strata/transport"
)

// TestAssign: a layer server assigned another range loads it beside the
// one it serves and switches the server to it (both held while the old
// one's sessions drain; none here, so the old one goes at once); an
// assignment out of the model's layers, or whose weights would not fit
// in memory beside those held, is refused and changes nothing.
func TestAssign(t *testing.T) {
	f, err := gguf.Open(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New(cpu.Options{Threads: 1})
	defer b.Close()
	l := &layerServer{file: f, backend: b, cfg: cfg, batch: 16}
	frag, err := l.load(Assignment{0, 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	id, err := transport.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	if l.server, err = transport.NewServer(frag, transport.ServerOptions{Identity: id}); err != nil {
		t.Fatal(err)
	}
	if err := l.Assign(Assignment{0, 3}); err != nil {
		t.Fatal(err)
	}
	if info := l.server.Info(); info.Start != 0 || info.End != 3 || !slices.Equal(info.Holding, [][2]int{{0, 3}}) {
		t.Errorf("after assigning 0-2: serves %d-%d, holds %v", info.Start, info.End-1, info.Holding)
	}
	if err := l.Assign(Assignment{2, 5}); err == nil || !strings.Contains(err.Error(), "not a range of the model's layers 0-3") {
		t.Errorf("assigning layers 2-4 of 4: %v", err)
	}
	if b.CopiesWeights() {
		held := engine.WeightBytes(f, 0, 3, true, 3 == cfg.Layers)
		t.Setenv("STRATA_MEMORY", strconv.FormatInt(held+held/4, 10))
		err := l.Assign(Assignment{1, 4})
		if err == nil || !strings.Contains(err.Error(), "layers 1-3: the weights need") || !strings.Contains(err.Error(), "beside the") {
			t.Errorf("assigning layers 1-3 in too little memory: %v", err)
		}
	}
	if info := l.server.Info(); info.Start != 0 || info.End != 3 {
		t.Errorf("a refused assignment changed the layers served to %d-%d", info.Start, info.End-1)
	}
}
