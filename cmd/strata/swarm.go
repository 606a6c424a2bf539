package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"strata/transport"
)

// swarmFlags are the flags of commands that talk to peers.
func swarmFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "swarm", EnvVars: []string{"STRATA_SWARM"}, Usage: "the swarm secret `FILE` ('strata swarm init' writes one)"},
		&cli.StringFlag{Name: "identity", EnvVars: []string{"STRATA_IDENTITY"}, Usage: "this node's Ed25519 identity `FILE`, created if missing (default: a new identity each run)"},
	}
}

// nodeCredentials reads the swarm secret and the identity.
func nodeCredentials(c *cli.Context) (*transport.Identity, transport.Swarm, error) {
	path := c.String("swarm")
	if path == "" {
		return nil, transport.Swarm{}, errors.New("no swarm secret: give --swarm FILE or set STRATA_SWARM ('strata swarm init -o FILE' makes one)")
	}
	swarm, err := transport.LoadSwarm(path)
	if err != nil {
		return nil, swarm, err
	}
	var id *transport.Identity
	if p := c.String("identity"); p != "" {
		id, err = transport.LoadIdentity(p)
	} else {
		id, err = transport.NewIdentity()
	}
	return id, swarm, err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func swarmCommand() *cli.Command {
	return &cli.Command{
		Name:  "swarm",
		Usage: "manage swarm secrets",
		Subcommands: []*cli.Command{{
			Name:         "init",
			Usage:        "write a new swarm secret",
			OnUsageError: usageError,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write the secret to `FILE` (mode 0600; -: to stdout)"},
				&cli.BoolFlag{Name: "force", Usage: "replace an existing file"},
			},
			Action: func(c *cli.Context) error {
				s, err := transport.NewSwarm()
				if err != nil {
					return err
				}
				path := c.String("output")
				if path == "-" {
					_, err := fmt.Println(s.String())
					return err
				}
				flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
				if c.Bool("force") {
					flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
				}
				f, err := os.OpenFile(path, flags, 0o600)
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("swarm init: %s exists: --force replaces it (every node must then get the new secret)", path)
				}
				if err != nil {
					return fmt.Errorf("swarm init: %w", err)
				}
				if _, err := fmt.Fprintln(f, s.String()); err != nil {
					f.Close()
					return fmt.Errorf("swarm init: %w", err)
				}
				if err := f.Close(); err != nil {
					return fmt.Errorf("swarm init: %w", err)
				}
				fmt.Fprintf(os.Stderr, "wrote a new swarm secret to %s (mode 0600): give every node of the swarm a copy, with --swarm %s or STRATA_SWARM\n", path, path)
				return nil
			},
		}},
	}
}

func peersCommand() *cli.Command {
	return &cli.Command{
		Name:         "peers",
		Usage:        "show each peer's identity, fragment, backend, load and round-trip time",
		OnUsageError: usageError,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "peers", Usage: "comma-separated peer `ADDRS` (host:port); or --join a swarm"},
			&cli.StringFlag{Name: "peer-id", Usage: "accept only these comma-separated peer `IDS`"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		}, append(swarmFlags(), joinFlags()...)...),
		Action: func(c *cli.Context) error {
			id, secret, err := nodeCredentials(c)
			if err != nil {
				return err
			}
			if c.IsSet("peers") == joining(c) {
				return errors.New("give --peers ADDRS, or --join a swarm to see its plan and peers")
			}
			addrs := splitList(c.String("peers"))
			var plan *planView
			if joining(c) {
				v, err := viewSwarm(c, id, secret, "")
				if err != nil {
					return err
				}
				plan = newPlanView(v)
				addrs = v.plan.Addresses(v.members)
			}
			if len(addrs) == 0 {
				return fmt.Errorf("--peers %q names no peer", c.String("peers"))
			}
			swarm := secret
			var rows []peerRow
			for _, addr := range addrs {
				r := peerRow{Addr: addr}
				ctx, cancel := context.WithTimeout(c.Context, 5*time.Second)
				p, err := transport.Dial(ctx, addr, transport.DialOptions{Identity: id, Swarm: swarm, Pins: splitList(c.String("peer-id"))})
				if err == nil {
					var info transport.PeerInfo
					if info, err = p.Info(ctx); err == nil {
						r.Info = &info
						var rtt time.Duration
						if rtt, err = p.Ping(ctx); err == nil {
							r.RTTUS = rtt.Microseconds()
						}
					}
					p.Close()
				}
				cancel()
				if err != nil {
					// The ADDR column names the peer already.
					r.Error = strings.TrimPrefix(oneLine(err.Error()), "transport: "+addr+": ")
				}
				rows = append(rows, r)
			}
			if err := printPeers(c.Bool("json"), plan, rows); err != nil {
				return err
			}
			failed := 0
			for _, r := range rows {
				if r.Error != "" {
					failed++
				}
			}
			if failed == len(rows) {
				return fmt.Errorf("no peer answered (%d of %d failed)", failed, len(rows))
			}
			return nil
		},
	}
}

// peerRow is what 'strata peers' reports of one peer.
type peerRow struct {
	Addr  string              `json:"addr"`
	Info  *transport.PeerInfo `json:"info,omitempty"`
	RTTUS int64               `json:"rtt_us,omitempty"`
	Error string              `json:"error,omitempty"`
}

// printPeers prints the swarm's plan, when the peers came from one, and
// the rows, as JSON or as tables.
func printPeers(asJSON bool, plan *planView, rows []peerRow) error {
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if plan != nil {
			return enc.Encode(struct {
				Plan  *planView `json:"plan"`
				Peers []peerRow `json:"peers"`
			}{plan, rows})
		}
		return enc.Encode(rows)
	}
	if plan != nil {
		if err := plan.print(os.Stdout); err != nil {
			return err
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ADDR\tID\tLAYERS\tFRAGMENT\tBACKEND\tDEVICE\tSESSIONS\tFORWARDS\tBUSY\tRTT")
	for _, r := range rows {
		if r.Info == nil {
			fmt.Fprintf(w, "%s\t%s\n", r.Addr, r.Error)
			continue
		}
		i := r.Info
		fmt.Fprintf(w, "%s\t%.16s…\t%d-%d of %d\t%d (%.12s…)\t%s\t%s\t%d/%d\t%d\t%d ms\t%.2f ms\n", r.Addr, i.ID, i.Start, i.End-1, i.Layers,
			i.Fragment, i.SHA256, i.Backend, i.Device, i.Sessions, i.MaxSessions, i.Forwards, i.BusyMS, float64(r.RTTUS)/1000)
	}
	return w.Flush()
}
