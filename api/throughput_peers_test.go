package api

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"strata/cpu"
	"strata/engine"
	"strata/gguf"
	"strata/transport"
)

// BenchmarkThroughputPeers is BenchmarkThroughput through two peers on
// loopback, each serving half the layers on the CPU with 2 threads, the
// 8 slots the routes of one transport.Group: "batched" sends every step's
// sequences to each hop as one multi-session request, "serial" steps the
// routes one after another, one request per sequence per hop, as before.
//
//	go test -run '^$' -bench ThroughputPeers -benchtime 3x ./api
func BenchmarkThroughputPeers(b *testing.B) {
	for _, mode := range []string{"batched", "serial"} {
		b.Run(mode, func(b *testing.B) {
			url := benchPeersServer(b, mode == "serial")
			var one, eight runStats
			for i := range b.N {
				one.add(runStreams(b, url, 1, 64, i))
				eight.add(runStreams(b, url, 8, 64, i))
			}
			one.report(b, "1")
			eight.report(b, "8")
			b.ReportMetric(eight.rate()/one.rate(), "ratio_8/1")
		})
	}
}

// benchPeersServer splits the model in two, serves each half from a peer
// in this process, and returns the URL of a server of 8 slots through
// them.
func benchPeersServer(b *testing.B, serial bool) string {
	path := os.Getenv("STRATA_BENCH_MODEL")
	if path == "" {
		path = filepath.Join("..", "testdata", "tiny-mistral", "tiny-mistral-q4km.gguf")
	}
	f, err := gguf.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		b.Fatal(err)
	}
	vocab, err := engine.VocabFrom(f)
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := engine.ChatTemplateByName("chatml")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	man, err := engine.Split(path, [][2]int{{0, cfg.Layers / 2}, {cfg.Layers / 2, cfg.Layers}}, dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	swarm, err := transport.NewSwarm()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	quiet := slog.New(slog.DiscardHandler)
	var addrs []string
	for i, fr := range man.Fragments {
		ff, err := gguf.Open(filepath.Join(dir, fr.File))
		if err != nil {
			b.Fatal(err)
		}
		be := cpu.New(cpu.Options{Threads: 2, Kernels: os.Getenv("STRATA_CPU")})
		frag, err := engine.NewFragment(ff, be, engine.FragmentOptions{})
		if err != nil {
			b.Fatal(err)
		}
		id, err := transport.NewIdentity()
		if err != nil {
			b.Fatal(err)
		}
		ln, err := transport.Listen("127.0.0.1:0", id)
		if err != nil {
			b.Fatal(err)
		}
		srv, err := transport.NewServer(frag, transport.ServerOptions{Identity: id, Swarm: swarm, Fragment: i, SHA256: fr.SHA256,
			MaxContext: 256, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { srv.Serve(ctx, ln); close(done) }()
		b.Cleanup(func() { cancel(); ln.Close(); <-done; be.Close(); ff.Close() })
		addrs = append(addrs, ln.Addr().String())
	}
	id, err := transport.NewIdentity()
	if err != nil {
		b.Fatal(err)
	}
	g, err := transport.NewGroup(ctx, addrs, 8, transport.RouteOptions{
		DialOptions: transport.DialOptions{Identity: id, Swarm: swarm}, Manifest: man, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.Close)
	m := &Model{ID: "bench", Vocab: vocab, Template: tmpl}
	for _, r := range g.Routes() {
		m.Stacks = append(m.Stacks, r)
	}
	return serveBench(b, m, serial)
}
