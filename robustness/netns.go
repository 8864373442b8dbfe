package robustness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Network is a private test network. A hub namespace holds a bridge; each
// node has its own namespace with one veth into the bridge, and the test
// process reaches the bridge through a veth of its own that carries an
// address (so traffic to the nodes never leaves through the default route).
// Keeping the bridge out of the root namespace keeps the host's firewall
// (Docker's FORWARD DROP policy, for one) out of the path. Partitions are
// nftables rules inside the nodes' namespaces.
type Network struct {
	name   string // short unique prefix for interface and namespace names
	subnet string // e.g. "10.250.17"
	nodes  int
}

// ErrNoPrivilege means the machine cannot create namespaces (not root, or
// ip/nft missing).
var ErrNoPrivilege = errors.New("robustness: network namespaces need root, iproute2 and nftables")

// CheckPrivileges reports whether namespaces and nftables are usable here.
func CheckPrivileges() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not running as root", ErrNoPrivilege)
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found", ErrNoPrivilege, tool)
		}
	}
	return nil
}

// NewNetwork creates the hub, its bridge and n node namespaces. id must be
// unique among networks alive at the same time (0-255); it picks the subnet
// 10.250.<id>.0/24.
func NewNetwork(id, n int) (*Network, error) {
	nw := &Network{name: fmt.Sprintf("sd%d", id), subnet: fmt.Sprintf("10.250.%d", id), nodes: n}
	nw.Close() // leftovers of a crashed earlier run with the same id
	hub := nw.hub()
	steps := [][]string{
		{"ip", "netns", "add", hub},
		{"ip", "-n", hub, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", hub, "link", "set", "br0", "up"},
		{"ip", "link", "add", nw.uplink(), "type", "veth", "peer", "name", "uplink0", "netns", hub},
		{"ip", "-n", hub, "link", "set", "uplink0", "master", "br0"},
		{"ip", "-n", hub, "link", "set", "uplink0", "up"},
		{"ip", "addr", "add", nw.subnet + ".1/24", "dev", nw.uplink()},
		{"ip", "link", "set", nw.uplink(), "up"},
	}
	for i := 0; i < n; i++ {
		ns, port := nw.Namespace(i), fmt.Sprintf("v%d", i)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "-n", hub, "link", "set", port, "master", "br0"},
			[]string{"ip", "-n", hub, "link", "set", port, "up"},
			[]string{"ip", "-n", ns, "addr", "add", nw.IP(i) + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			nw.Close()
			return nil, fmt.Errorf("set up test network: %w", err)
		}
	}
	const rules = `table inet seatd {
  set cut { type ipv4_addr; }
  chain in { type filter hook input priority 0; policy accept; ip saddr @cut drop; }
  chain out { type filter hook output priority 0; policy accept; ip daddr @cut drop; }
}`
	for i := 0; i < n; i++ {
		if err := runInput(rules, "ip", "netns", "exec", nw.Namespace(i), "nft", "-f", "-"); err != nil {
			nw.Close()
			return nil, fmt.Errorf("install partition rules in %s: %w", nw.Namespace(i), err)
		}
	}
	return nw, nil
}

func (nw *Network) hub() string    { return nw.name + "hub" }
func (nw *Network) uplink() string { return nw.name + "up" }

// Namespace returns the name of node i's network namespace.
func (nw *Network) Namespace(i int) string { return fmt.Sprintf("%sn%d", nw.name, i) }

// IP returns node i's address.
func (nw *Network) IP(i int) string { return fmt.Sprintf("%s.%d", nw.subnet, 10+i) }

// Partition cuts the network into the given groups: nodes in different
// groups cannot exchange packets; nodes in no group keep their links. The
// test's clients (on the bridge) still reach every node. Partition replaces
// any earlier partition.
func (nw *Network) Partition(groups [][]int) error {
	if err := nw.Heal(); err != nil {
		return err
	}
	group := make(map[int]int)
	for g, members := range groups {
		for _, m := range members {
			group[m] = g
		}
	}
	for i := 0; i < nw.nodes; i++ {
		gi, ok := group[i]
		if !ok {
			continue
		}
		var cut []string
		for j := 0; j < nw.nodes; j++ {
			if gj, ok := group[j]; ok && gj != gi {
				cut = append(cut, nw.IP(j))
			}
		}
		if err := nw.cut(i, cut); err != nil {
			return err
		}
	}
	return nil
}

// Cut makes node i unable to exchange packets with the nodes in others
// (used for bridge topologies, where reachability is not transitive).
func (nw *Network) Cut(i int, others []int) error {
	var ips []string
	for _, o := range others {
		ips = append(ips, nw.IP(o))
	}
	return nw.cut(i, ips)
}

func (nw *Network) cut(i int, ips []string) error {
	if len(ips) == 0 {
		return nil
	}
	return run("ip", "netns", "exec", nw.Namespace(i), "nft", "add", "element", "inet", "seatd", "cut",
		"{ "+strings.Join(ips, ", ")+" }")
}

// Heal removes every partition.
func (nw *Network) Heal() error {
	var errs []error
	for i := 0; i < nw.nodes; i++ {
		if err := run("ip", "netns", "exec", nw.Namespace(i), "nft", "flush", "set", "inet", "seatd", "cut"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close deletes the namespaces (their veths and the bridge go with them).
func (nw *Network) Close() {
	for i := 0; i < max(nw.nodes, 9); i++ {
		exec.Command("ip", "netns", "del", nw.Namespace(i)).Run()
	}
	exec.Command("ip", "netns", "del", nw.hub()).Run()
	exec.Command("ip", "link", "del", nw.uplink()).Run()
}

func run(args ...string) error { return runInput("", args...) }

func runInput(stdin string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
