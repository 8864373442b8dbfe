package node

import (
	"net"
	"runtime"
	"time"

	"github.com/hashicorp/go-hclog"
)

// cpuShareInterval is how often a node that shares CPUs looks at its
// cluster's configuration again (members join and leave).
const cpuShareInterval = 10 * time.Second

// cpuShare sizes the Go scheduler of a node whose cluster has other
// members on the same machine. Every Go process sizes its scheduler for
// the whole machine; three nodes that each do so keep waking threads that
// then wait for each other's CPUs. On a 2-core machine that cost one
// client's median request 0.03-0.13 ms and a write 7-25% more CPU
// (docs/benchmarks.md, "Each node its share of the CPUs"). Members on
// this machine are those whose node-to-node address is a loopback
// address, as this node's own is: nothing else is certain to be here.
type cpuShare struct {
	// base is the GOMAXPROCS the runtime chose for this process (the
	// machine's CPUs, or its cgroup's limit) before cpuShare changed it.
	base int
	// set and reset change the process's scheduler: runtime.GOMAXPROCS
	// and runtime.SetDefaultGOMAXPROCS (which gives the choice back to
	// the runtime, and its updates with the cgroup's limit).
	set    func(int) int
	reset  func()
	procs  int // what cpuShare set; 0 while the runtime's default holds
	logger hclog.Logger
}

func newCPUShare(logger hclog.Logger) *cpuShare {
	return &cpuShare{
		base:   runtime.GOMAXPROCS(0),
		set:    runtime.GOMAXPROCS,
		reset:  runtime.SetDefaultGOMAXPROCS,
		logger: logger,
	}
}

// update sizes the scheduler for the configuration's node-to-node
// addresses, self being this node's own. An empty configuration (not
// known yet, or not readable now) changes nothing.
func (s *cpuShare) update(self string, members []string) {
	if len(members) == 0 {
		return
	}
	here := colocatedMembers(self, members)
	want := 0 // the runtime's default
	if here > 1 {
		want = max(1, s.base/here)
	}
	if want == s.procs {
		return
	}
	s.procs = want
	if want == 0 {
		s.reset()
		s.logger.Info("no other member runs on this machine: the Go scheduler is sized for all of it again", "gomaxprocs", runtime.GOMAXPROCS(0))
		return
	}
	s.set(want)
	s.logger.Info("members of the cluster share this machine: the Go scheduler is sized to this node's share (set GOMAXPROCS to choose)",
		"members_here", here, "cpus", s.base, "gomaxprocs", want)
}

// colocatedMembers counts the members that run on this machine: those on
// a loopback address, when this node's own address is one (otherwise
// only itself is known to be here).
func colocatedMembers(self string, members []string) int {
	if !onLoopback(self) {
		return 1
	}
	here := 0
	for _, m := range members {
		if onLoopback(m) {
			here++
		}
	}
	return max(1, here)
}

// onLoopback reports whether a host:port names a loopback address.
func onLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startCPUShare sizes the scheduler now and again every cpuShareInterval
// until the node closes.
func (n *Node) startCPUShare() {
	share := newCPUShare(n.logger.Named("cpu-share"))
	update := func() {
		var addrs []string
		for _, m := range n.rep.Status().Members {
			addrs = append(addrs, m.Address)
		}
		share.update(n.cfg.RaftAdvertise, addrs)
	}
	update()
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		tick := time.NewTicker(cpuShareInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				update()
			case <-n.stop:
				return
			}
		}
	}()
}
