package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/gguf"
	"strata/transport"
)

// verifyPeers checks the peers serving a split: each hop's output, for
// every position, against the exact pass at the hop's last layer, and the
// last hop's logits. The exact pass reads the fragment files beside the
// manifest.
func verifyPeers(c *cli.Context, manifest string) (*verifyReport, error) {
	if !c.IsSet("peers") {
		return nil, fmt.Errorf("verify: a manifest is checked through its peers: give --peers ADDR,ADDR,...")
	}
	m, err := engine.ReadManifest(manifest)
	if err != nil {
		return nil, err
	}
	var files []*gguf.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, fr := range m.Fragments {
		f, err := gguf.Open(filepath.Join(filepath.Dir(manifest), fr.File))
		if err != nil {
			return nil, fmt.Errorf("verify: the float64 pass reads every fragment beside the manifest: %w", err)
		}
		files = append(files, f)
	}
	vocab, err := engine.VocabFrom(files[0])
	if err != nil {
		return nil, err
	}
	config, err := engine.ConfigFrom(files[0])
	if err != nil {
		return nil, err
	}
	tokens := vocab.Encode(c.String("prompt"), true, false)
	if len(tokens) == 0 {
		return nil, fmt.Errorf("verify: the prompt has no tokens")
	}
	id, swarm, err := nodeCredentials(c)
	if err != nil {
		return nil, err
	}
	wire, err := transport.ParseWire(c.String("wire"))
	if err != nil {
		return nil, err
	}
	// Hop outputs: hidden states of every position, and the last hop's
	// logits, one position per Eval.
	states := newHiddenStates(config.Embedding)
	hopOf := map[int]int{} // layer → hop
	var route *transport.Route
	route, err = transport.NewRoute(c.Context, splitList(c.String("peers")), transport.RouteOptions{
		DialOptions: transport.DialOptions{Identity: id, Swarm: swarm, Pins: splitList(c.String("peer-id"))},
		Wire:        wire, Manifest: m, Model: &config, Context: len(tokens),
		Observe: func(hop, pos int, out []float32) {
			if hop < len(route.Stats())-1 {
				states.add(hop, engine.AfterFeedForward, pos, out)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	defer route.Close()
	logits := make([]float32, len(tokens)*config.Vocab)
	start := time.Now()
	for i, tok := range tokens {
		if err := route.Eval(logits[i*config.Vocab:], []int32{tok}); err != nil {
			return nil, err
		}
	}
	hops := route.Stats()
	for i, h := range hops {
		hopOf[h.End-1] = i
	}
	r := &verifyReport{Model: config.Name, Path: "peers", Device: count(len(hops), "peer", "peers"), Tokens: len(tokens),
		EngineMS: ms(time.Since(start))}
	exact, err := engine.NewExact(files...)
	if err != nil {
		return nil, err
	}
	err = r.againstExact(c, exact, tokens, logits, func(layer int, stage engine.Stage) ([]float32, verifyCheck, bool) {
		hi, ok := hopOf[layer]
		if !ok || stage != engine.AfterFeedForward || hi == len(hops)-1 {
			return nil, verifyCheck{}, false // inside a hop, or the last hop's output, checked as logits
		}
		return states.states[hiddenKey{hi, stage}], verifyCheck{Peer: hops[hi].Addr, ID: hops[hi].ID}, true
	})
	r.Logits.Peer, r.Logits.ID = hops[len(hops)-1].Addr, hops[len(hops)-1].ID
	return r, err
}
