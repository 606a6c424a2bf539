package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"strata/engine"
	"strata/swarm"
	"strata/transport"
)

// serveSwarm serves the layers the swarm's plan gives this peer, from the
// whole model file of l: it measures itself on the model's shapes, joins
// the swarm with what it measured, waits for a plan that names it, loads
// its stage's layers and serves them, and moves to other layers as later
// plans say (layerServer.Assign: generations in flight finish, or move
// exactly). sum is the model file's sha256, which names the model in the
// swarm.
func serveSwarm(c *cli.Context, l *layerServer, o transport.ServerOptions, sum string) error {
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := swarm.Measure(ctx, l.file, l.backend, swarm.MeasureOptions{})
	if err != nil {
		return err
	}
	slog.Info("measured", "layer_ms", m.LayerSeconds*1e3, "prompt_layer_ms", m.PromptLayerSeconds*1e3,
		"head_ms", m.HeadSeconds*1e3, "memory", engine.Bytes(m.MemoryBytes), "of", m.MemorySource)
	model, err := swarm.ModelOf(l.file, c.Int("ctx-size"), l.batch)
	if err != nil {
		return err
	}
	ln, err := transport.Listen(c.String("listen"), o.Identity)
	if err != nil {
		return err
	}
	defer ln.Close()
	meta := swarm.Meta{Data: ln.Addr().String(), Backend: l.backend.Name(), Device: deviceName(l.backend.Device()),
		LayerSeconds: m.LayerSeconds, HeadSeconds: m.HeadSeconds, MemoryBytes: m.MemoryBytes, Model: sum}
	plans := make(chan swarm.Assignment, 1) // the newest plan not yet applied
	offer := func(a swarm.Assignment) {
		for {
			select {
			case plans <- a:
				return
			case <-plans: // replaced by the newer
			}
		}
	}
	cfg := joinConfig(c, o.Identity, o.Swarm, meta)
	cfg.Plan = swarm.PlanFor(model, sum, swarm.Options{})
	cfg.Events = func(e swarm.Event) {
		if e.Kind == swarm.PlanChanged {
			offer(e.Plan)
		}
	}
	ms, err := joinSwarm(c, cfg)
	if err != nil {
		return err
	}
	defer leave(ms)
	if l.partial != nil {
		from := splitList(c.String("fetch-from"))
		l.partial.sources = func() []string { return holders(ms, sum, from, meta.Data) }
	}
	if a, ok := ms.Plan(); ok {
		offer(a)
	}
	slog.Info("joined the swarm", "gossip", ms.Gossip(), "id", o.Identity.ID(), "members", len(ms.Members()))
	if p := c.String("addr-file"); p != "" {
		if err := writeAddr(p, meta.Data); err != nil {
			return err
		}
	}

	// The first plan that names this peer gives the layers it starts with.
	var first swarm.Assignment
	var serving Assignment
	for {
		select {
		case <-ctx.Done():
			return nil
		case first = <-plans:
		}
		var ok bool
		if serving, ok = layersIn(first, ms.ID()); ok {
			break
		}
		slog.Info("the swarm's plan has no layers for this peer yet", "version", first.Version)
	}
	frag, err := l.load(serving, 0)
	if err != nil {
		return err
	}
	s, err := newServer(c, frag, o)
	if err != nil {
		frag.Close()
		return err
	}
	l.server = s
	announce(ctx, ms, meta, serving, first.Version)
	go follow(ctx, ms, l, meta, plans, serving)
	slog.Info("serving", "addr", meta.Data, "id", o.Identity.ID(), "model", sum[:12], "layers", serving.String(),
		"plan", first.Version, "backend", l.backend.Name(), "device", l.backend.Device())
	return s.Serve(ctx, ln)
}

// follow applies the swarm's later plans: when one gives this peer other
// layers, it is assigned them and tells the swarm. A plan without this
// peer leaves it serving what it serves (a spare the plan may call on).
func follow(ctx context.Context, ms *swarm.Membership, l *layerServer, meta swarm.Meta, plans <-chan swarm.Assignment, serving Assignment) {
	for {
		var a swarm.Assignment
		select {
		case <-ctx.Done():
			return
		case a = <-plans:
		}
		next, ok := layersIn(a, ms.ID())
		if ok && next != serving {
			if err := l.Assign(next); err != nil {
				slog.Warn("cannot serve the layers the plan gives", "layers", next.String(), "plan", a.Version, "err", err)
				continue
			}
			serving = next
		}
		announce(ctx, ms, meta, serving, a.Version)
	}
}

// layersIn returns the layers the plan a gives the member id, if it
// names it; a plan that cannot be read is logged and names nobody.
func layersIn(a swarm.Assignment, id string) (Assignment, bool) {
	plan, err := swarm.DecodePlan(a)
	if err != nil {
		slog.Warn("a plan this peer cannot read", "err", err)
		return Assignment{}, false
	}
	s, ok := plan.StageOf(id)
	return Assignment{s.Start, s.End}, ok
}

// announce tells the swarm the layers this peer serves, by the plan of
// version v. memberlist waits a while for the update to be broadcast, and
// on a loaded machine it may time out although the update goes out with
// the next gossip: it is tried again, a few times, and then left to the
// gossip.
func announce(ctx context.Context, ms *swarm.Membership, meta swarm.Meta, a Assignment, v uint64) {
	meta.Start, meta.End, meta.PlanVersion = a.Start, a.End, v
	for try := 1; ; try++ {
		err := ms.UpdateMeta(ctx, meta)
		if err == nil || ctx.Err() != nil {
			return
		}
		if try == 3 {
			slog.Warn("cannot tell the swarm the layers this peer serves; its gossip will", "layers", a.String(), "plan", v, "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// deviceName fits a device's name into the swarm's small metadata.
func deviceName(s string) string {
	const most = 48
	if len(s) > most {
		return s[:most]
	}
	return s
}

// holders lists where to fetch the model sum's tensors from: the given
// addresses, then the data address of every other member that holds the
// model (one that holds only some layers refuses, and the next is tried).
func holders(ms *swarm.Membership, sum string, given []string, self string) []string {
	out := slices.Clone(given)
	for _, m := range ms.Members() {
		if m.Meta.Model == sum && m.Meta.Data != "" && m.Meta.Data != self && !slices.Contains(out, m.Meta.Data) {
			out = append(out, m.Meta.Data)
		}
	}
	return out
}
