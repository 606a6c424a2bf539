package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"strata/api"
	"strata/engine"
	"strata/gguf"
	"strata/transport"
)

func serverCommand() *cli.Command {
	return &cli.Command{
		Name:      "server",
		Usage:     "serve a model over HTTP: an OpenAI-compatible API and a web chat",
		ArgsUsage: "MODEL | MANIFEST | --models-dir DIR",
		Description: "Serves POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health,\n" +
			"GET /metrics (with --metrics), the web chat at / and the swarm page at /swarm.\n" +
			modelUsage + "\n" +
			"With --models-dir instead of a MODEL, it serves every model 'strata list --models-dir DIR' lists (the hub\n" +
			"cache's and DIR's), by the names list gives them, loading each when a request names it and unloading\n" +
			"the least recently used ones that no request holds when --models-memory would be exceeded.\n" +
			"The sampling flags are the defaults of requests that do not set them.",
		OnUsageError: usageError,
		Flags: append(append(append([]cli.Flag{
			modelFlag(),
			&cli.StringFlag{Name: "host", Value: "127.0.0.1", Usage: "listen on `HOST` (anything but loopback needs --api-key or --insecure-no-key)"},
			&cli.IntFlag{Name: "port", Value: 8080, Usage: "listen on TCP `PORT` (0: any free one)"},
			&cli.StringFlag{Name: "addr-file", Usage: "once listening, write the address to `FILE`"},
			&cli.IntFlag{Name: "parallel", Aliases: []string{"np"}, Value: 1, Usage: "slots: `N` requests computed at once, each with its own KV cache of -c positions"},
			&cli.IntFlag{Name: "queue", Usage: "requests that may wait for a slot; more get 503 (default: 4 per slot)"},
			&cli.StringFlag{Name: "api-key", EnvVars: []string{"STRATA_API_KEY"}, Usage: "require \"Authorization: Bearer `KEY`\" on the API and /metrics"},
			&cli.BoolFlag{Name: "insecure-no-key", Usage: "allow a non-loopback --host without --api-key"},
			&cli.BoolFlag{Name: "metrics", Usage: "serve Prometheus metrics at /metrics"},
			&cli.StringFlag{Name: "alias", Usage: "the model's `NAME` in the API (default: the file's name without .gguf)"},
			&cli.StringFlag{Name: "chat-template", Usage: "render chats with the built-in template `NAME`: " + strings.Join(engine.ChatTemplateNames, ", ") + " (default: the model's own tokenizer.chat_template, else chatml)"},
			&cli.StringFlag{Name: "peers", Usage: "with a manifest: compute through these comma-separated peer `ADDRS`"},
			&cli.StringFlag{Name: "peer-id", Usage: "accept only these comma-separated peer `IDS`"},
			&cli.StringFlag{Name: "wire", Value: "f32", Usage: "hidden states between peers as `FORMAT`: f32 or f16"},
			&cli.StringFlag{Name: "models-dir", Usage: "instead of a MODEL: serve every model of the hub cache and under `DIR`, loaded on demand"},
			&cli.StringFlag{Name: "models-memory", Value: "auto", Usage: "with --models-dir: the memory the loaded models may take, as `BYTES` (512M, 16G) or auto (3/4 of the machine's, or of STRATA_MEMORY)"},
			&cli.DurationFlag{Name: "models-wait", Value: 5 * time.Minute, Usage: "with --models-dir: how long a request waits for its model to load, or for memory to free, before a 503"},
		}, samplingFlags()...), backendFlags()...), swarmFlags()...),
		Action: server,
	}
}

func server(c *cli.Context) error {
	if c.IsSet("models-dir") {
		return serverOfMany(c)
	}
	path, err := modelPath(c)
	if err != nil {
		return err
	}
	addr, err := listenAddr(c)
	if err != nil {
		return err
	}
	opts, err := serverChecks(c)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var m *api.Model
	var monitor *api.Monitor
	var closeAll func()
	if manifest, ok := manifestPath(path); ok {
		if m, closeAll, err = peerModel(c, ctx, manifest); err == nil {
			monitor, err = peerMonitor(c)
		}
	} else if c.IsSet("peers") {
		return fmt.Errorf("--peers needs a split model: the manifest.json 'strata split' wrote, or its directory")
	} else {
		m, closeAll, err = localModel(c, path, 0)
	}
	if closeAll != nil {
		defer closeAll()
	}
	if err != nil {
		return err
	}
	m.Created = time.Now().Unix()
	if a := c.String("alias"); a != "" {
		m.ID = a
	}
	srv, err := api.New(api.Options{Model: m, Defaults: serverDefaults(c, opts), APIKey: c.String("api-key"), Queue: c.Int("queue"),
		Metrics: c.Bool("metrics"), Monitor: monitor})
	if err != nil {
		return err
	}
	return listenAndServe(c, ctx, srv, addr, "model", m.ID, "slots", len(m.Stacks), "context", m.Context(), "template", m.Template.Name)
}

// serverOfMany is 'strata server --models-dir DIR': the models of the
// hub cache and DIR, loaded on demand within --models-memory.
func serverOfMany(c *cli.Context) error {
	if c.NArg() > 0 || c.IsSet("model") {
		return fmt.Errorf("server: give a MODEL or --models-dir, not both")
	}
	if c.IsSet("alias") {
		return fmt.Errorf("--alias names the one MODEL; with --models-dir the models are named as 'strata list' names them")
	}
	addr, err := listenAddr(c)
	if err != nil {
		return err
	}
	opts, err := serverChecks(c)
	if err != nil {
		return err
	}
	if _, err := batchFlag(c); err != nil {
		return err
	}
	if n := c.Int("ctx-size"); n != 0 {
		if err := checkContext("-c", n); err != nil {
			return err
		}
	}
	if c.Duration("models-wait") <= 0 {
		return fmt.Errorf("--models-wait %s: want a positive duration", c.Duration("models-wait"))
	}
	dir := c.String("models-dir")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--models-dir %s: not a directory", dir)
	}
	budget, source, err := budgetFlag(c)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var monitor *api.Monitor
	if c.IsSet("peers") {
		if monitor, err = peerMonitor(c); err != nil {
			return err
		}
	}
	lib := &library{c: c, ctx: ctx, dir: dir, budget: budget, source: source}
	entries, err := lib.Models()
	if err != nil {
		return err
	}
	served := 0
	for _, e := range entries {
		switch {
		case e.Error != "":
			slog.Warn("a model that cannot be served", "model", e.ID, "why", e.Error)
		case e.Memory > budget:
			slog.Warn("a model larger than the memory budget", "model", e.ID, "needs", engine.Bytes(e.Memory), "budget", engine.Bytes(budget))
			served++
		default:
			served++
		}
	}
	srv, err := api.New(api.Options{Library: lib, Memory: budget, MemorySource: source, LoadWait: c.Duration("models-wait"),
		Defaults: serverDefaults(c, opts), APIKey: c.String("api-key"), Queue: c.Int("queue"), Metrics: c.Bool("metrics"), Monitor: monitor})
	if err != nil {
		return err
	}
	return listenAndServe(c, ctx, srv, addr, "models", served, "dir", dir, "memory_budget", engine.Bytes(budget), "of", source,
		"slots_each", c.Int("parallel"))
}

// serverChecks checks the flags every server takes, and reads the
// sampling defaults.
func serverChecks(c *cli.Context) (engine.GenerateOptions, error) {
	opts, err := generateOptions(c)
	if err != nil {
		return opts, err
	}
	if c.Int("parallel") < 1 || c.Int("parallel") > 256 {
		return opts, fmt.Errorf("--parallel %d: want 1 to 256 slots", c.Int("parallel"))
	}
	if c.Int("queue") < 0 {
		return opts, fmt.Errorf("--queue %d: want 0 or more", c.Int("queue"))
	}
	return opts, nil
}

func serverDefaults(c *cli.Context, opts engine.GenerateOptions) api.Defaults {
	return api.Defaults{MaxTokens: opts.MaxTokens, Seed: c.Int64("seed"), Sampler: opts.Sampler}
}

// listenAndServe listens on addr and serves srv until ctx ends; what is logged
// names what it serves.
func listenAndServe(c *cli.Context, ctx context.Context, srv *api.Server, addr string, what ...any) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if p := c.String("addr-file"); p != "" {
		if err := writeAddrFile(p, ln.Addr().String()); err != nil {
			return err
		}
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug)}
	schedCtx, stopSched := context.WithCancel(context.Background())
	schedDone := make(chan struct{})
	go func() { srv.Run(schedCtx); close(schedDone) }()
	slog.Info("serving", append(append([]any{"url", "http://" + ln.Addr().String() + "/"}, what...),
		"metrics", c.Bool("metrics"), "api_key", c.String("api-key") != "")...)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		slog.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if hs.Shutdown(sctx) != nil {
			hs.Close() // requests still running: their clients are cut off
		}
		cancel()
		err = nil
	}
	stopSched()
	<-schedDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// listenAddr is --host and --port, refusing a host others can reach
// without a key unless --insecure-no-key says so, loudly.
func listenAddr(c *cli.Context) (string, error) {
	host, port := c.String("host"), c.Int("port")
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("--port %d: want 0 to 65535", port)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if loopback(host) || c.String("api-key") != "" {
		return addr, nil
	}
	if !c.Bool("insecure-no-key") {
		return "", fmt.Errorf("--host %q is reachable from other machines: give --api-key KEY, or --insecure-no-key to serve without one", host)
	}
	slog.Warn("SERVING WITHOUT AN API KEY on a non-loopback address: anyone who can reach "+addr+
		" can generate text with this model, use its slots, read /metrics and see the swarm page (peer addresses and identities)",
		"addr", addr)
	return addr, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeAddrFile(p, addr string) error {
	if err := os.WriteFile(p+".tmp", []byte(addr+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// modelID is the name a file is served under: its base name without
// .gguf.
func modelID(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".gguf")
}

// chatTemplate is --chat-template, else the model's own (its
// tokenizer.chat_template, rendered as Jinja), else the built-in template
// closest to it, else ChatML (as llama-server falls back to). The log says
// which.
func chatTemplate(c *cli.Context, f *gguf.File, v *engine.Vocab) (*engine.ChatTemplate, error) {
	if name := c.String("chat-template"); name != "" {
		return engine.ChatTemplateByName(name)
	}
	t, err := engine.ModelChatTemplate(f, v)
	switch {
	case err != nil:
		slog.Warn("chat requests are rendered as ChatML (llama-server's fallback): "+oneLine(err.Error()), "template", "chatml")
		return engine.ChatTemplateByName("chatml")
	case t.Fallback != "":
		slog.Warn("chat requests are rendered with a built-in template: "+oneLine(t.Fallback), "template", t.Name)
	default:
		slog.Info("chat requests are rendered with the model's own chat template (tokenizer.chat_template)")
	}
	return t, nil
}

// localModel loads a model file with one session per slot, each of
// context positions (0: as contextSize says).
func localModel(c *cli.Context, path string, context int) (*api.Model, func(), error) {
	md, err := openModel(c, path)
	if err != nil {
		return nil, nil, err
	}
	var sessions []*engine.Session
	closeAll := func() {
		for _, s := range sessions {
			s.Close()
		}
		md.Close()
	}
	fail := func(err error) (*api.Model, func(), error) { closeAll(); return nil, nil, err }
	if md.vocab, err = engine.VocabFrom(md.file); err != nil {
		return fail(err)
	}
	tmpl, err := chatTemplate(c, md.file, md.vocab)
	if err != nil {
		return fail(err)
	}
	n := context
	if n == 0 {
		if n, err = contextSize(c, md.frag, md.batch, c.Int("parallel")); err != nil {
			return fail(err)
		}
	}
	m := &api.Model{ID: modelID(path), Vocab: md.vocab, Template: tmpl, Backend: md.backend.Name(), Device: md.backend.Device()}
	for range c.Int("parallel") {
		s, err := md.frag.NewSession(n)
		if err != nil {
			return fail(err)
		}
		sessions = append(sessions, s)
		m.Stacks = append(m.Stacks, s)
	}
	return m, closeAll, nil
}

// peerModel connects one route of peers per slot.
func peerModel(c *cli.Context, ctx context.Context, manifest string) (*api.Model, func(), error) {
	if !c.IsSet("peers") {
		return nil, nil, fmt.Errorf("a manifest runs through peers: give --peers ADDR,ADDR,...")
	}
	man, err := engine.ReadManifest(manifest)
	if err != nil {
		return nil, nil, err
	}
	f, err := gguf.Open(filepath.Join(filepath.Dir(manifest), man.Fragments[0].File))
	if err != nil {
		return nil, nil, fmt.Errorf("the vocabulary comes from the first fragment: %w", err)
	}
	defer f.Close()
	vocab, err := engine.VocabFrom(f)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := engine.ConfigFrom(f)
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := chatTemplate(c, f, vocab)
	if err != nil {
		return nil, nil, err
	}
	id, swarm, err := nodeCredentials(c)
	if err != nil {
		return nil, nil, err
	}
	wire, err := transport.ParseWire(c.String("wire"))
	if err != nil {
		return nil, nil, err
	}
	addrs, pins := splitList(c.String("peers")), splitList(c.String("peer-id"))
	name := man.Source.File
	if name == "" {
		name = man.Model
	}
	m := &api.Model{ID: modelID(name), Vocab: vocab, Template: tmpl}
	// The slots' routes form one group: one connection to each peer, and
	// every step's sequences cross each hop in one request.
	group, err := transport.NewGroup(ctx, addrs, c.Int("parallel"), transport.RouteOptions{
		DialOptions: transport.DialOptions{Identity: id, Swarm: swarm, Pins: pins},
		Wire:        wire, Manifest: man, Model: &cfg, Context: c.Int("ctx-size"),
	})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range group.Routes() {
		m.Stacks = append(m.Stacks, r)
	}
	return m, group.Close, nil
}

// peerMonitor is a monitor of every peer --peers lists, with an identity
// of its own: its probes never take a connection the routes' quota needs.
func peerMonitor(c *cli.Context) (*api.Monitor, error) {
	_, swarm, err := nodeCredentials(c)
	if err != nil {
		return nil, err
	}
	id, err := transport.NewIdentity()
	if err != nil {
		return nil, err
	}
	return api.NewMonitor(splitList(c.String("peers")), transport.DialOptions{Identity: id, Swarm: swarm, Pins: splitList(c.String("peer-id"))}, 2*time.Second), nil
}
