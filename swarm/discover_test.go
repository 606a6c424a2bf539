package swarm

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/mdns"

	"strata/transport"
)

// The discovery test runs two members in two network namespaces joined
// by a veth pair, each a child process (this test binary, told so by
// these variables): nothing but mDNS tells either of the other.
const (
	childEnv     = "STRATA_SWARM_DISCOVER_CHILD" // the interface to discover on
	childBindEnv = "STRATA_SWARM_DISCOVER_BIND"
	childKeyEnv  = "STRATA_SWARM_DISCOVER_SECRET"
)

func TestMain(m *testing.M) {
	if iface := os.Getenv(childEnv); iface != "" {
		os.Exit(discoverChild(iface, os.Getenv(childBindEnv), os.Getenv(childKeyEnv)))
	}
	os.Exit(m.Run())
}

// discoverChild is one member of TestDiscover: it prints its ID, then
// the ID of the member it finds and the plan they share, then waits for
// its standard input to close and leaves.
func discoverChild(iface, bind, secret string) int {
	fail := func(err error) int { fmt.Println("error", err); return 1 }
	s, err := transport.ParseSwarm(secret)
	if err != nil {
		return fail(err)
	}
	id, err := transport.NewIdentity()
	if err != nil {
		return fail(err)
	}
	var p idPlan
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := Join(ctx, Config{Identity: id, Swarm: s, Bind: bind, Discover: true, DiscoverInterface: iface,
		ProbeInterval: testProbe, Debounce: testDebounce, Plan: p.plan,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	fmt.Println("id", m.ID())
	for ctx.Err() == nil {
		a, ok := m.Plan()
		var ids []string
		if ok && json.Unmarshal(a.Plan, &ids) == nil && len(ids) == 2 && len(m.Members()) == 2 {
			for _, mem := range m.Members() {
				if mem.ID != m.ID() {
					fmt.Println("peer", mem.ID, mem.Gossip)
				}
			}
			fmt.Printf("plan %d %s\n", a.Version, a.Plan)
			io.Copy(io.Discard, os.Stdin)
			m.Leave(context.Background())
			return 0
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fail(fmt.Errorf("no other member found within 20 s (members %d)", len(m.Members())))
}

// netnsUnavailable says why this machine cannot make network namespaces,
// or "".
func netnsUnavailable() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no ip command (iproute2)"
	}
	return ""
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestDiscover: two members started with discovery, in two network
// namespaces joined by a veth pair (a LAN of two machines), find each
// other without any address given, and share one plan.
func TestDiscover(t *testing.T) {
	if why := netnsUnavailable(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must run the discovery test: %s", why)
		}
		t.Skipf("cannot test discovery between network namespaces: %s", why)
	}
	tag := fmt.Sprintf("%d", os.Getpid()%100000)
	ns := [2]string{"strata-disc-" + tag + "-a", "strata-disc-" + tag + "-b"}
	veth := [2]string{"sda" + tag, "sdb" + tag}
	addr := [2]string{"10.213.0.1", "10.213.0.2"}
	for _, n := range ns {
		if out, err := exec.Command("ip", "netns", "add", n).CombinedOutput(); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("ip netns add: %v: %s", err, out)
			}
			t.Skipf("cannot make a network namespace here: %v: %s", err, strings.TrimSpace(string(out)))
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", n).Run() })
	}
	run(t, "ip", "link", "add", veth[0], "type", "veth", "peer", "name", veth[1])
	for i := range 2 {
		run(t, "ip", "link", "set", veth[i], "netns", ns[i])
		in := []string{"ip", "netns", "exec", ns[i], "ip"}
		run(t, append(in, "addr", "add", addr[i]+"/24", "dev", veth[i])...)
		run(t, append(in, "link", "set", veth[i], "up")...)
		run(t, append(in, "link", "set", "lo", "up")...)
		// A LAN host's default route carries multicast; here only the
		// veth can.
		run(t, append(in, "route", "add", "224.0.0.0/4", "dev", veth[i])...)
	}

	secret := newSecret(t)
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		lines chan string
	}
	var kids [2]child
	start := time.Now()
	for i := range 2 {
		cmd := exec.Command("ip", "netns", "exec", ns[i], os.Args[0])
		cmd.Env = append(os.Environ(), childEnv+"="+veth[i], childBindEnv+"="+addr[i]+":0", childKeyEnv+"="+secret.String())
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 8)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		kids[i] = child{cmd, stdin, lines}
		t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	}
	read := func(i int, word string) string {
		t.Helper()
		select {
		case l, ok := <-kids[i].lines:
			f := strings.Fields(l)
			if !ok || len(f) < 2 || f[0] != word {
				t.Fatalf("member %d: %q, want %s …", i, l, word)
			}
			return strings.Join(f[1:], " ")
		case <-time.After(25 * time.Second):
			t.Fatalf("member %d: no %s line", i, word)
		}
		return ""
	}
	var id, peer, plan [2]string
	for i := range 2 {
		id[i] = read(i, "id")
	}
	for i := range 2 {
		peer[i] = read(i, "peer")
		plan[i] = read(i, "plan")
	}
	took := time.Since(start)
	for i := range 2 {
		if want := id[1-i] + " " + addr[1-i]; !strings.HasPrefix(peer[i], want+":") {
			t.Errorf("member %d found %q, want %s at %s", i, peer[i], id[1-i], addr[1-i])
		}
	}
	if plan[0] != plan[1] {
		t.Errorf("plans differ: %q and %q", plan[0], plan[1])
	}
	t.Logf("two namespaces: found each other and share plan %s %v after the processes started", plan[0], took.Round(time.Millisecond))
	for i := range 2 {
		kids[i].stdin.Close()
		if err := kids[i].cmd.Wait(); err != nil {
			t.Errorf("member %d: %v", i, err)
		}
	}
}

// TestDiscovered: of what mDNS finds, only announcements of another
// member of this swarm that is not a member yet are joined.
func TestDiscovered(t *testing.T) {
	s := newSecret(t)
	tag := discoveryTag(s)
	self, known, fresh := newIdentity(t).ID(), newIdentity(t).ID(), newIdentity(t).ID()
	m := &Membership{id: self, nodes: map[string]node{known: {}}}
	ip := net.ParseIP("10.0.0.7")
	tests := []struct {
		name string
		e    *mdns.ServiceEntry
		want string
	}{
		{"another member", &mdns.ServiceEntry{AddrV4: ip, Port: 7946, InfoFields: []string{"swarm=" + tag, "id=" + fresh}}, "10.0.0.7:7946"},
		{"another swarm", &mdns.ServiceEntry{AddrV4: ip, Port: 7946, InfoFields: []string{"swarm=" + discoveryTag(newSecret(t)), "id=" + fresh}}, ""},
		{"no tag", &mdns.ServiceEntry{AddrV4: ip, Port: 7946, InfoFields: []string{"id=" + fresh}}, ""},
		{"itself", &mdns.ServiceEntry{AddrV4: ip, Port: 7946, InfoFields: []string{"swarm=" + tag, "id=" + self}}, ""},
		{"already a member", &mdns.ServiceEntry{AddrV4: ip, Port: 7946, InfoFields: []string{"swarm=" + tag, "id=" + known}}, ""},
		{"no id", &mdns.ServiceEntry{AddrV4: ip, Port: 7946, InfoFields: []string{"swarm=" + tag}}, ""},
		{"no IPv4 address", &mdns.ServiceEntry{Port: 7946, InfoFields: []string{"swarm=" + tag, "id=" + fresh}}, ""},
		{"no port", &mdns.ServiceEntry{AddrV4: ip, InfoFields: []string{"swarm=" + tag, "id=" + fresh}}, ""},
		{"nothing", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := m.discovered(tt.e, tag)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("discovered = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}
