package robustness

import (
	"fmt"
	"math/rand"
	"sort"
	"time"
)

// FaultKind names one kind of fault the nemesis injects.
type FaultKind string

// The fault kinds.
const (
	KillLeader        FaultKind = "kill-leader"        // SIGKILL the leader, restart on its data
	KillRandom        FaultKind = "kill-random"        // SIGKILL a random node, restart
	KillMajority      FaultKind = "kill-majority"      // SIGKILL a majority, restart them
	PauseLeader       FaultKind = "pause-leader"       // SIGSTOP the leader past the election timeout, SIGCONT
	IsolateLeader     FaultKind = "isolate-leader"     // the leader alone in a minority
	PartitionRandom   FaultKind = "partition-random"   // a random majority/minority split
	PartitionBridge   FaultKind = "partition-bridge"   // two sides that only one node sees both of
	PartitionMinority FaultKind = "partition-minority" // the leader plus others in a minority
	// ReplaceNode removes a random node from the membership, kills it and
	// deletes its data; the heal starts it as a fresh node that joins
	// (same id and address): a removal and an addition under load.
	ReplaceNode FaultKind = "replace-node"
)

// AllFaults lists every fault kind.
var AllFaults = []FaultKind{KillLeader, KillRandom, KillMajority, PauseLeader, IsolateLeader, PartitionRandom, PartitionBridge, PartitionMinority, ReplaceNode}

// Fault is one planned fault and, after the run, what happened.
type Fault struct {
	Kind     FaultKind
	Hold     time.Duration
	Injected bool
	Targets  []int
	// CutOff are the nodes the fault separates from a majority (the
	// minority side of a partition): their /readyz must turn 503.
	CutOff []int
	At     time.Duration // since the run started
	Healed time.Duration
	// Recovery is how long after the heal the cluster answered a write.
	Recovery time.Duration
}

// String describes the fault and what happened to it.
func (f Fault) String() string {
	return fmt.Sprintf("%s%v hold %s at %s recovered in %s", f.Kind, f.Targets, f.Hold.Round(time.Millisecond),
		f.At.Round(time.Millisecond), f.Recovery.Round(time.Millisecond))
}

// Plan draws a seeded schedule of count faults from kinds.
func Plan(seed int64, kinds []FaultKind, count int, minHold, maxHold time.Duration) []Fault {
	rng := rand.New(rand.NewSource(seed))
	var plan []Fault
	for i := 0; i < count; i++ {
		// Every kind once before any repeats, so short schedules cover them.
		var k FaultKind
		if i < len(kinds) {
			k = kinds[(int(seed%int64(len(kinds)))+i)%len(kinds)]
		} else {
			k = kinds[rng.Intn(len(kinds))]
		}
		hold := minHold + time.Duration(rng.Int63n(int64(maxHold-minHold)+1))
		plan = append(plan, Fault{Kind: k, Hold: hold})
	}
	return plan
}

// nemesis injects faults into a cluster.
type nemesis struct {
	c   *Cluster
	rng *rand.Rand
	// electionPause is how long a paused leader must stay stopped to be
	// deposed (a few election timeouts).
	electionPause time.Duration
}

// leader finds the current leader, waiting up to timeout.
func (n *nemesis) leader(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		if l := n.c.Leader(time.Second); l >= 0 {
			return l
		}
		if time.Now().After(deadline) {
			return -1
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *nemesis) others(except ...int) []int {
	var out []int
outer:
	for i := 0; i < n.c.N; i++ {
		for _, e := range except {
			if i == e {
				continue outer
			}
		}
		out = append(out, i)
	}
	return out
}

// inject starts fault f and returns the function that heals it.
func (n *nemesis) inject(f *Fault) (heal func() error, err error) {
	c := n.c
	majority := c.N/2 + 1
	switch f.Kind {
	case KillLeader, KillRandom:
		target := n.rng.Intn(c.N)
		if f.Kind == KillLeader {
			if target = n.leader(10 * time.Second); target < 0 {
				return nil, fmt.Errorf("no leader to kill")
			}
		}
		f.Targets = []int{target}
		c.Kill(target)
		return func() error { return c.StartNode(target) }, nil
	case KillMajority:
		perm := n.rng.Perm(c.N)[:majority]
		sort.Ints(perm)
		f.Targets = perm
		for _, t := range perm {
			c.Kill(t)
		}
		return func() error {
			for _, t := range perm {
				if err := c.StartNode(t); err != nil {
					return err
				}
			}
			return nil
		}, nil
	case ReplaceNode:
		target := n.rng.Intn(c.N)
		rest := n.others(target)
		via := rest[n.rng.Intn(len(rest))]
		f.Targets = []int{target}
		// The leader refuses while the voters that would remain do not
		// all answer yet (a node restarted by the previous fault): ask
		// again for a while.
		deadline := time.Now().Add(15 * time.Second)
		for {
			err := c.RemoveMember(via, target)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return nil, err
			}
			time.Sleep(500 * time.Millisecond)
		}
		c.Kill(target)
		if err := c.Replace(target, via); err != nil {
			return nil, err
		}
		return func() error { return c.StartNode(target) }, nil
	case PauseLeader:
		target := n.leader(10 * time.Second)
		if target < 0 {
			return nil, fmt.Errorf("no leader to pause")
		}
		if f.Hold < n.electionPause {
			f.Hold = n.electionPause
		}
		f.Targets = []int{target}
		c.Pause(target)
		return func() error { c.Resume(target); return nil }, nil
	case IsolateLeader, PartitionMinority:
		target := n.leader(10 * time.Second)
		if target < 0 {
			return nil, fmt.Errorf("no leader to isolate")
		}
		minority := []int{target}
		if f.Kind == PartitionMinority {
			rest := n.others(target)
			n.rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
			minority = append(minority, rest[:c.N-majority-1]...)
		}
		sort.Ints(minority)
		f.Targets, f.CutOff = minority, minority
		if err := c.Net.Partition([][]int{minority, n.others(minority...)}); err != nil {
			return nil, err
		}
		return c.Net.Heal, nil
	case PartitionRandom:
		perm := n.rng.Perm(c.N)
		minority := perm[:c.N-majority]
		sort.Ints(minority)
		f.Targets, f.CutOff = minority, minority
		if err := c.Net.Partition([][]int{minority, n.others(minority...)}); err != nil {
			return nil, err
		}
		return c.Net.Heal, nil
	case PartitionBridge:
		// Sides A and B see the bridge node but not each other.
		perm := n.rng.Perm(c.N)
		bridge, rest := perm[0], perm[1:]
		a, b := rest[:len(rest)/2], rest[len(rest)/2:]
		f.Targets = append([]int{bridge}, rest...)
		for _, x := range a {
			if err := c.Net.Cut(x, b); err != nil {
				return nil, err
			}
		}
		for _, y := range b {
			if err := c.Net.Cut(y, a); err != nil {
				return nil, err
			}
		}
		return c.Net.Heal, nil
	}
	return nil, fmt.Errorf("unknown fault %q", f.Kind)
}
