package swarm

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/mdns"
)

// discoveryService is the DNS-SD service members announce themselves as.
const discoveryService = "_strata._udp"

// maxDiscoverPause is how far apart, in probe intervals, the queries of
// a member that is in a swarm of more than itself drift (RFC 6762 asks
// that continuous queries back off).
const maxDiscoverPause = 60

// discovery is a member's mDNS: an announcement of its gossip address
// with its swarm's tag, and a browser that joins the members of the same
// swarm it finds.
type discovery struct {
	server *mdns.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func (m *Membership) startDiscovery() (*discovery, error) {
	var iface *net.Interface
	if m.cfg.DiscoverInterface != "" {
		i, err := net.InterfaceByName(m.cfg.DiscoverInterface)
		if err != nil {
			return nil, fmt.Errorf("swarm: discover: %w", err)
		}
		iface = i
	}
	host, port, _ := net.SplitHostPort(m.gossip)
	p, _ := strconv.Atoi(port)
	tag := discoveryTag(m.cfg.Swarm)
	svc, err := mdns.NewMDNSService(m.id, discoveryService, "local.", "strata-"+m.id[:16]+".local.", p,
		[]net.IP{net.ParseIP(host)}, []string{"swarm=" + tag, "id=" + m.id})
	if err != nil {
		return nil, fmt.Errorf("swarm: discover: %w", err)
	}
	mdnsLog := slog.NewLogLogger(m.log.With("component", "mdns").Handler(), slog.LevelDebug)
	server, err := mdns.NewServer(&mdns.Config{Zone: svc, Iface: iface, Logger: mdnsLog})
	if err != nil {
		return nil, fmt.Errorf("swarm: discover: announce on %s: %w (does the interface have MULTICAST?)", ifaceName(iface), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &discovery{server: server, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		m.browse(ctx, iface, tag, mdnsLog)
	}()
	m.log.Info("swarm: discovering with mDNS", "service", discoveryService, "interface", ifaceName(iface))
	return d, nil
}

func ifaceName(i *net.Interface) string {
	if i == nil {
		return "the default multicast interface"
	}
	return i.Name
}

func (d *discovery) stop() {
	d.cancel()
	<-d.done
	d.server.Shutdown()
}

// browse queries for the swarm's members until ctx is done, joining
// those that are not members yet. It queries every probe interval while
// the member is alone, and backs off to maxDiscoverPause intervals once
// it is not.
func (m *Membership) browse(ctx context.Context, iface *net.Interface, tag string, log *log.Logger) {
	pi := m.cfg.ProbeInterval
	pause := pi
	for {
		entries := make(chan *mdns.ServiceEntry, 64)
		err := mdns.QueryContext(ctx, &mdns.QueryParam{
			Service: discoveryService, Domain: "local", Timeout: max(pi, 100*time.Millisecond),
			Interface: iface, Entries: entries, DisableIPv6: true, Logger: log,
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			m.warnOnce("mdns "+err.Error(), "swarm: discover: query failed", "err", err)
		}
		var found []string
	drain:
		for {
			select {
			case e := <-entries:
				if a, ok := m.discovered(e, tag); ok {
					found = append(found, a)
				}
			default:
				break drain
			}
		}
		if len(found) > 0 {
			m.log.Info("swarm: discovered members", "addresses", found)
			if n, err := m.ml.Join(found); n == 0 {
				m.log.Warn("swarm: discover: cannot join what was found", "addresses", found, "err", err)
			}
		}
		if m.ml.NumMembers() > 1 {
			pause = min(2*pause, maxDiscoverPause*pi)
		} else {
			pause = pi
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// discovered is the gossip address of an announcement of another member
// of this swarm that is not a member yet.
func (m *Membership) discovered(e *mdns.ServiceEntry, tag string) (string, bool) {
	if e == nil || e.AddrV4 == nil || e.Port == 0 || !slices.Contains(e.InfoFields, "swarm="+tag) {
		return "", false
	}
	var id string
	for _, f := range e.InfoFields {
		if v, ok := strings.CutPrefix(f, "id="); ok {
			id = v
		}
	}
	if id == "" || id == m.id {
		return "", false
	}
	m.mu.Lock()
	_, member := m.nodes[id]
	m.mu.Unlock()
	if member {
		return "", false
	}
	return net.JoinHostPort(e.AddrV4.String(), strconv.Itoa(e.Port)), true
}
