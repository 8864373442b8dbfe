package node

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestColocatedMembersCountsLoopbackPeersOfALoopbackNode(t *testing.T) {
	three := []string{"127.0.0.1:8201", "127.0.0.1:8202", "127.0.0.1:8203"}
	cases := []struct {
		name    string
		self    string
		members []string
		want    int
	}{
		{"three on 127.0.0.1", "127.0.0.1:8201", three, 3},
		{"any 127/8 and ::1 and localhost", "[::1]:8201", []string{"[::1]:8201", "127.0.0.2:8202", "localhost:8203"}, 3},
		{"one node", "127.0.0.1:8201", three[:1], 1},
		{"peers on other machines", "127.0.0.1:8201", []string{"127.0.0.1:8201", "10.0.0.2:8202", "node3.example:8203"}, 1},
		{"this node not on loopback", "10.0.0.1:8201", []string{"10.0.0.1:8201", "127.0.0.1:8202", "127.0.0.1:8203"}, 1},
		{"malformed addresses", "127.0.0.1:8201", []string{"127.0.0.1", "", "127.0.0.1:8201"}, 1},
	}
	for _, c := range cases {
		if got := colocatedMembers(c.self, c.members); got != c.want {
			t.Errorf("%s: colocatedMembers(%q, %q) = %d, want %d", c.name, c.self, c.members, got, c.want)
		}
	}
}

// fakeScheduler stands in for the process's scheduler: what a cpuShare
// set, and what the runtime would choose by itself.
type fakeScheduler struct {
	mu           sync.Mutex
	runtimeProcs int // the runtime's own choice
	procs        int // 0: the runtime's choice holds
	sets         int
	resets       int
}

func (f *fakeScheduler) state() (procs, sets, resets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.procs, f.sets, f.resets
}

// newTestCPUShare returns a cpuShare on sched whose runtime would choose
// base by itself.
func newTestCPUShare(base int, sched *fakeScheduler) *cpuShare {
	sched.runtimeProcs = base
	return &cpuShare{
		defaultProcs: func() int {
			sched.mu.Lock()
			defer sched.mu.Unlock()
			if sched.procs != 0 {
				return sched.procs
			}
			return sched.runtimeProcs
		},
		set: func(n int) {
			sched.mu.Lock()
			defer sched.mu.Unlock()
			sched.procs, sched.sets = n, sched.sets+1
		},
		reset: func() {
			sched.mu.Lock()
			defer sched.mu.Unlock()
			sched.procs, sched.resets = 0, sched.resets+1
		},
		logger: hclog.NewNullLogger(),
	}
}

func TestCPUShareSizesTheSchedulerToTheMachinesShare(t *testing.T) {
	self := "127.0.0.1:8201"
	three := []string{self, "127.0.0.1:8202", "127.0.0.1:8203"}
	for _, c := range []struct {
		base, members, want int
	}{
		{2, 3, 1}, {2, 2, 1}, {8, 3, 2}, {8, 4, 2}, {16, 5, 3}, {1, 3, 1},
	} {
		var sched fakeScheduler
		s := newTestCPUShare(c.base, &sched)
		members := []string{self}
		for i := 1; i < c.members; i++ {
			members = append(members, fmt.Sprintf("127.0.0.1:%d", 8201+i))
		}
		s.update(self, members)
		if sched.procs != c.want || sched.sets != 1 {
			t.Errorf("%d CPUs, %d members here: GOMAXPROCS %d after %d sets, want %d after 1", c.base, c.members, sched.procs, sched.sets, c.want)
		}
	}

	var sched fakeScheduler
	s := newTestCPUShare(2, &sched)
	s.update(self, three)
	s.update(self, three)
	if sched.procs != 1 || sched.sets != 1 {
		t.Fatalf("same configuration twice: GOMAXPROCS %d after %d sets, want 1 after 1", sched.procs, sched.sets)
	}
	s.update(self, nil) // configuration not readable: nothing changes
	if sched.procs != 1 || sched.resets != 0 {
		t.Fatalf("empty configuration: GOMAXPROCS %d after %d resets, want 1 kept", sched.procs, sched.resets)
	}
	s.update(self, []string{self, "10.0.0.2:8202", "10.0.0.3:8203"})
	if sched.procs != 0 || sched.resets != 1 {
		t.Fatalf("the others moved to other machines: GOMAXPROCS %d after %d resets, want the runtime's default after 1", sched.procs, sched.resets)
	}
	s.update(self, three)
	if sched.procs != 1 || sched.sets != 2 {
		t.Fatalf("the others back on this machine: GOMAXPROCS %d after %d sets, want 1 after 2", sched.procs, sched.sets)
	}
}

func TestCPUShareLeavesALoneNodeAlone(t *testing.T) {
	var sched fakeScheduler
	s := newTestCPUShare(2, &sched)
	s.update("127.0.0.1:8201", []string{"127.0.0.1:8201"})
	s.update("10.0.0.1:8201", []string{"10.0.0.1:8201", "10.0.0.2:8202"})
	if sched.sets != 0 || sched.resets != 0 {
		t.Fatalf("no member beside it: %d sets and %d resets, want none", sched.sets, sched.resets)
	}
}

// The runtime's own choice is read again while it holds: a cgroup limit
// that changed before the others arrived sizes the share.
func TestCPUShareTakesTheRuntimesChoiceOfTheMoment(t *testing.T) {
	var sched fakeScheduler
	s := newTestCPUShare(8, &sched)
	self := "127.0.0.1:8201"
	s.update(self, []string{self})
	sched.mu.Lock()
	sched.runtimeProcs = 4
	sched.mu.Unlock()
	s.update(self, []string{self, "127.0.0.1:8202"})
	if procs, _, _ := sched.state(); procs != 2 {
		t.Fatalf("runtime's choice 4, 2 members here: GOMAXPROCS %d, want 2", procs)
	}
}

// A node that joins knows no configuration at first: run looks again
// quickly until the configuration holds it, sizes the scheduler then, and
// gives it back to the runtime when stopped.
func TestCPUShareRunSizesAJoiningNodeAndUndoesOnStop(t *testing.T) {
	var sched fakeScheduler
	s := newTestCPUShare(2, &sched)
	self := "127.0.0.1:8204"
	var mu sync.Mutex
	var members []string // empty until "joined"
	config := func() (string, []string) {
		mu.Lock()
		defer mu.Unlock()
		return self, members
	}
	// An interval far beyond the test's deadline: only the retry can
	// find the new configuration in time.
	s.interval, s.retry = time.Hour, 5*time.Millisecond
	wait := s.step(config) // no configuration yet
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(stop, config, wait)
	}()
	mu.Lock()
	members = []string{"127.0.0.1:8201", "127.0.0.1:8202", "127.0.0.1:8203", self}
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if procs, _, _ := sched.state(); procs == 1 {
			break
		}
		if time.Now().After(deadline) {
			procs, sets, _ := sched.state()
			t.Fatalf("joined beside 3 members on 2 CPUs: GOMAXPROCS %d after %d sets, want 1", procs, sets)
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-done
	if procs, _, resets := sched.state(); procs != 0 || resets != 1 {
		t.Fatalf("after stop: GOMAXPROCS %d after %d resets, want the runtime's choice after 1", procs, resets)
	}
}
