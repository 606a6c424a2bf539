package swarm

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"strata/transport"
)

// Config configures a member. Its zero value is not enough: Identity and
// Swarm are required; everything else has a default.
type Config struct {
	// Identity is the member's: its ID is the member's name in the
	// swarm, and it signs the member's metadata and plans.
	Identity *transport.Identity
	// Swarm is the swarm's secret (strata swarm init writes it). The
	// gossip is encrypted and authenticated with a key derived from it.
	Swarm transport.Swarm

	// Bind is the gossip address, host:port, for UDP and TCP alike; the
	// host is an IP. Default "127.0.0.1:0" (loopback, a free port): a
	// swarm across machines binds "0.0.0.0:PORT" or an interface's IP.
	Bind string
	// Advertise is the address, host or host:port, that others reach
	// the member's gossip at. Default: the bound address, or a private IP
	// of the machine when bound to 0.0.0.0.
	Advertise string
	// Join lists members (host:port) to join through; the first that
	// answers is enough. Empty starts a swarm of one, unless discovery
	// finds others.
	Join []string
	// Discover announces the member with mDNS on the local network and
	// joins the members of the same swarm it finds there.
	Discover bool
	// DiscoverInterface names the network interface mDNS uses; empty
	// for the system's default multicast interface.
	DiscoverInterface string

	// Meta is what the member first tells the swarm about itself.
	Meta Meta
	// Plan, when set, makes the member able to coordinate: the
	// coordinator (the live member with the lowest ID among those with a
	// Plan) calls it after each change of the swarm and distributes what
	// it returns. A member without one (a client) never coordinates.
	Plan PlanFunc
	// Events, when set, receives the swarm's events in order, from one
	// goroutine of its own: memberlist never waits for it.
	Events func(Event)

	// ProbeInterval is how often a member checks one other is alive;
	// failure detection, gossip and anti-entropy scale with it (a member
	// that stops answering is declared failed after a few intervals).
	// Default 500 ms, half memberlist's LAN configuration's: with it a
	// killed peer's layers were served again within 3.5 s in 10 churn
	// runs (TestSwarmChurn), where 1 s took up to 7 s and once over 10;
	// the gossip is a few small packets an interval. At least 10 ms.
	ProbeInterval time.Duration
	// Debounce is how long the coordinator waits for the swarm to settle
	// after a change before it plans. Default 500 ms.
	Debounce time.Duration

	// Logger receives the member's log lines, memberlist's own at debug
	// level. Default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	defaultBind          = "127.0.0.1:0"
	defaultProbeInterval = 500 * time.Millisecond
	defaultDebounce      = 500 * time.Millisecond
	minProbeInterval     = 10 * time.Millisecond
)

// Validate refuses a configuration that Join cannot use, naming the field.
func (c *Config) Validate() error {
	if c.Identity == nil {
		return errors.New("swarm: config: no identity")
	}
	if c.Swarm == (transport.Swarm{}) {
		return errors.New("swarm: config: no swarm secret (strata swarm init writes one)")
	}
	if c.Bind != "" {
		host, port, err := net.SplitHostPort(c.Bind)
		if err != nil {
			return fmt.Errorf("swarm: config: bind address %q: %w", c.Bind, err)
		}
		if net.ParseIP(host) == nil {
			return fmt.Errorf("swarm: config: bind address %q: the host is not an IP", c.Bind)
		}
		if _, err := parsePort(port, true); err != nil {
			return fmt.Errorf("swarm: config: bind address %q: %w", c.Bind, err)
		}
	}
	if c.Advertise != "" {
		if _, _, err := splitAdvertise(c.Advertise); err != nil {
			return err
		}
	}
	for _, a := range c.Join {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("swarm: config: join address %q: %w", a, err)
		}
		if host == "" {
			return fmt.Errorf("swarm: config: join address %q: no host", a)
		}
		if _, err := parsePort(port, false); err != nil {
			return fmt.Errorf("swarm: config: join address %q: %w", a, err)
		}
	}
	if c.DiscoverInterface != "" && !c.Discover {
		return fmt.Errorf("swarm: config: discovery interface %q without discovery", c.DiscoverInterface)
	}
	if c.ProbeInterval != 0 && c.ProbeInterval < minProbeInterval {
		return fmt.Errorf("swarm: config: probe interval %v is under %v", c.ProbeInterval, minProbeInterval)
	}
	if c.Debounce < 0 {
		return fmt.Errorf("swarm: config: debounce %v is negative", c.Debounce)
	}
	return c.Meta.Validate()
}

// withDefaults is c with its zero fields set.
func (c Config) withDefaults() Config {
	if c.Bind == "" {
		c.Bind = defaultBind
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = defaultProbeInterval
	}
	if c.Debounce == 0 {
		c.Debounce = defaultDebounce
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func parsePort(s string, zero bool) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 || p == 0 && !zero {
		return 0, fmt.Errorf("port %q is not 1 to 65535", s)
	}
	return p, nil
}

// splitAdvertise reads an advertised address, host or host:port (port 0
// when none is given).
func splitAdvertise(a string) (string, int, error) {
	host, port := a, 0
	if h, p, err := net.SplitHostPort(a); err == nil {
		n, err := parsePort(p, false)
		if err != nil {
			return "", 0, fmt.Errorf("swarm: config: advertise address %q: %w", a, err)
		}
		host, port = h, n
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("swarm: config: advertise address %q: the host is not an IP", a)
	}
	return host, port, nil
}
