package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"strata/swarm"
	"strata/transport"
)

// joinFlags are the flags of the commands that find their peers through
// the swarm's gossip instead of a list of addresses.
func joinFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "join", Usage: "join the swarm through these comma-separated gossip `ADDRS` (host:port of any member)"},
		&cli.BoolFlag{Name: "discover", Usage: "find the swarm's members on the local network by mDNS"},
		&cli.StringFlag{Name: "gossip-addr", Usage: "gossip on `ADDR` (host:port, UDP and TCP; default 127.0.0.1 on a free port, 0.0.0.0:7946 with --discover)"},
		&cli.StringFlag{Name: "gossip-addr-file", Usage: "once gossiping, write the gossip address to `FILE`"},
		&cli.DurationFlag{Name: "join-timeout", Value: 30 * time.Second, Usage: "how long a client waits for the swarm's plan"},
	}
}

// joining reports whether the command finds its peers through the swarm.
func joining(c *cli.Context) bool {
	return c.String("join") != "" || c.Bool("discover") || c.IsSet("gossip-addr")
}

// joinConfig is the membership configuration the flags ask for.
func joinConfig(c *cli.Context, id *transport.Identity, secret transport.Swarm, meta swarm.Meta) swarm.Config {
	bind := c.String("gossip-addr")
	if bind == "" && c.Bool("discover") {
		bind = "0.0.0.0:7946"
	}
	return swarm.Config{Identity: id, Swarm: secret, Bind: bind, Join: splitList(c.String("join")),
		Discover: c.Bool("discover"), Meta: meta, Logger: slog.Default()}
}

// joinSwarm joins the swarm and writes --gossip-addr-file.
func joinSwarm(c *cli.Context, cfg swarm.Config) (*swarm.Membership, error) {
	ms, err := swarm.Join(c.Context, cfg)
	if err != nil {
		return nil, err
	}
	if p := c.String("gossip-addr-file"); p != "" {
		if err := writeAddr(p, ms.Gossip()); err != nil {
			ms.Close()
			return nil, err
		}
	}
	return ms, nil
}

// writeAddr writes an address to a file at once, for scripts that wait
// for it.
func writeAddr(path, addr string) error {
	if err := os.WriteFile(path+".tmp", []byte(addr+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// leave tells the swarm this member is going, within two seconds.
func leave(ms *swarm.Membership) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ms.Leave(ctx); err != nil {
		ms.Close()
	}
}

// errNoPlan reports a swarm that gave a client no plan to route by.
var errNoPlan = errors.New("the swarm has no plan that covers the model")

// swarmPeers joins the swarm as a client (a member that serves and plans
// nothing), waits for a plan whose every stage has a member that serves
// it, and returns the data addresses of the plan's peers in route order
// and their IDs, to pin: only the peers the swarm's plan names are
// trusted with the route. model is the model file's sha256.
func swarmPeers(c *cli.Context, id *transport.Identity, secret transport.Swarm, model string) (addrs, ids []string, err error) {
	v, err := viewSwarm(c, id, secret, model)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range v.plan.Stages {
		ids = append(ids, s.Peers...)
	}
	slog.Debug("routing by the swarm's plan", "version", v.version, "coordinator", v.coordinator,
		"stages", len(v.plan.Stages), "predicted_tokens_per_second", v.plan.PredictedTokensPerSecond)
	return v.plan.Addresses(v.members), ids, nil
}

// swarmView is the swarm as a client saw it: the plan it routes by and
// the members then.
type swarmView struct {
	version     uint64
	coordinator string
	plan        swarm.Plan
	members     []swarm.Member
}

// viewSwarm joins the swarm as a client, waits up to --join-timeout for
// a plan whose every stage has a member that serves it (of model, the
// file's sha256; "" for any), and leaves.
func viewSwarm(c *cli.Context, id *transport.Identity, secret transport.Swarm, model string) (swarmView, error) {
	ms, err := joinSwarm(c, joinConfig(c, id, secret, swarm.Meta{Model: model}))
	if err != nil {
		return swarmView{}, err
	}
	defer leave(ms)
	wait := c.Duration("join-timeout")
	deadline := time.Now().Add(wait)
	for {
		if a, ok := ms.Plan(); ok {
			plan, err := swarm.DecodePlan(a)
			if err != nil {
				return swarmView{}, err
			}
			members := ms.Members()
			if covered(plan, members, model) {
				return swarmView{version: a.Version, coordinator: a.Coordinator, plan: plan, members: members}, nil
			}
		}
		if time.Now().After(deadline) {
			return swarmView{}, fmt.Errorf("%w after %v: %d members (--join-timeout waits longer)", errNoPlan, wait, len(ms.Members()))
		}
		select {
		case <-c.Context.Done():
			return swarmView{}, c.Context.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// covered reports whether every stage of the plan has a member that
// holds the model ("" for any) and serves the stage's layers now.
func covered(plan swarm.Plan, members []swarm.Member, model string) bool {
	byID := map[string]swarm.Meta{}
	for _, m := range members {
		byID[m.ID] = m.Meta
	}
	for _, s := range plan.Stages {
		ok := false
		for _, id := range s.Peers {
			m := byID[id]
			ok = ok || (m.Data != "" && (model == "" || m.Model == model) && m.Start == s.Start && m.End == s.End)
		}
		if !ok {
			return false
		}
	}
	return len(plan.Stages) > 0
}

// swarmHolders joins the swarm as a client, on a gossip port of its own,
// waits up to --join-timeout for members that serve the model sum, and
// leaves: the data addresses of those members, for a peer that holds no
// copy of the model to fetch its header from before it joins as a peer.
func swarmHolders(c *cli.Context, id *transport.Identity, secret transport.Swarm, sum string) ([]string, error) {
	cfg := joinConfig(c, id, secret, swarm.Meta{})
	if cfg.Bind != "" {
		host, _, err := net.SplitHostPort(cfg.Bind)
		if err != nil {
			return nil, fmt.Errorf("--gossip-addr %s: %w", cfg.Bind, err)
		}
		cfg.Bind = net.JoinHostPort(host, "0")
	}
	ms, err := swarm.Join(c.Context, cfg)
	if err != nil {
		return nil, err
	}
	defer leave(ms)
	wait := c.Duration("join-timeout")
	deadline := time.Now().Add(wait)
	for {
		if addrs := holders(ms, sum, nil, ""); len(addrs) > 0 {
			return addrs, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no member of the swarm serves model %.12s… after %v, to fetch its layers from (--join-timeout waits longer)", sum, wait)
		}
		select {
		case <-c.Context.Done():
			return nil, c.Context.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
