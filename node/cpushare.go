package node

import (
	"net"
	"runtime"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
)

// How often a node that shares CPUs looks at its cluster's configuration:
// every cpuShareInterval (members join and leave), and every
// cpuShareRetry while the configuration it knows does not hold it yet (a
// node that joins learns its cluster only once it has been added).
const (
	cpuShareInterval = 10 * time.Second
	cpuShareRetry    = 250 * time.Millisecond
)

// cpuShare sizes the Go scheduler of a node whose cluster has other
// members on the same machine. Every Go process sizes its scheduler for
// the whole machine; three nodes that each do so keep waking threads that
// then wait for each other's CPUs. On a 2-core machine, sharing made one
// client's median request 0.03-0.13 ms faster and a write take 7-25% less
// CPU (docs/benchmarks.md, "Each node its share of the CPUs"). Members on
// this machine are those whose node-to-node address is a loopback
// address, as this node's own is: nothing else is certain to be here.
type cpuShare struct {
	// defaultProcs, set and reset reach the process's scheduler:
	// the GOMAXPROCS the runtime chooses by itself (the machine's CPUs,
	// or its cgroup's limit), runtime.GOMAXPROCS, and
	// runtime.SetDefaultGOMAXPROCS (which gives the choice back to the
	// runtime, and with it the runtime's updates when the limit changes).
	defaultProcs func() int
	set          func(int)
	reset        func()
	// interval and retry are how long step says to wait before the next
	// look: cpuShareInterval and cpuShareRetry.
	interval, retry time.Duration
	// base is the runtime's own choice, read while it held.
	base   int
	procs  int // what cpuShare set; 0 while the runtime's choice holds
	logger hclog.Logger
}

// newCPUShare returns a cpuShare that changes this process's scheduler.
func newCPUShare(logger hclog.Logger) *cpuShare {
	return &cpuShare{
		defaultProcs: func() int { return runtime.GOMAXPROCS(0) },
		set:          func(n int) { runtime.GOMAXPROCS(n) },
		reset:        runtime.SetDefaultGOMAXPROCS,
		interval:     cpuShareInterval,
		retry:        cpuShareRetry,
		logger:       logger,
	}
}

// update sizes the scheduler for the configuration's node-to-node
// addresses, self being this node's own. An empty configuration (not
// known yet, or not readable now) changes nothing.
func (s *cpuShare) update(self string, members []string) {
	if len(members) == 0 {
		return
	}
	if s.procs == 0 {
		s.base = s.defaultProcs() // the runtime's choice, which may have changed
	}
	here := colocatedMembers(self, members)
	want := 0 // the runtime's choice
	if here > 1 {
		want = max(1, s.base/here)
	}
	if want == s.procs {
		return
	}
	s.procs = want
	if want == 0 {
		s.reset()
		s.logger.Info("no other member runs on this machine: the Go scheduler is sized for all of it again", "gomaxprocs", s.defaultProcs())
		return
	}
	s.set(want)
	s.logger.Info("members of the cluster share this machine: the Go scheduler is sized to this node's share (set GOMAXPROCS to choose)",
		"members_here", here, "default_gomaxprocs", s.base, "gomaxprocs", s.defaultProcs())
}

// undo gives the scheduler back to the runtime's choice, if cpuShare
// changed it (a node that closes in a process that goes on).
func (s *cpuShare) undo() {
	if s.procs != 0 {
		s.procs = 0
		s.reset()
	}
}

// memberConfig returns this node's node-to-node address and those of the
// configuration's members.
type memberConfig func() (self string, members []string)

// step sizes the scheduler for the configuration now and returns how long
// to wait before the next look: retry while the configuration does not
// hold this node yet, interval otherwise.
func (s *cpuShare) step(config memberConfig) time.Duration {
	self, members := config()
	s.update(self, members)
	if !slices.Contains(members, self) {
		return s.retry
	}
	return s.interval
}

// run takes a step after each wait until stop is closed, then undoes what
// it set.
func (s *cpuShare) run(stop <-chan struct{}, config memberConfig, wait time.Duration) {
	defer s.undo()
	for {
		select {
		case <-time.After(wait):
		case <-stop:
			return
		}
		wait = s.step(config)
	}
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

// startCPUShare sizes the scheduler now, before the node serves, and
// keeps it sized in a goroutine that ends when the node closes.
func (n *Node) startCPUShare() {
	share := newCPUShare(n.logger.Named("cpu-share"))
	config := func() (string, []string) {
		var addrs []string
		for _, m := range n.rep.Status().Members {
			addrs = append(addrs, m.Address)
		}
		return n.cfg.RaftAdvertise, addrs
	}
	wait := share.step(config)
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		share.run(n.stop, config, wait)
	}()
}
