package main

import (
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// shareLine is the line a node logs when it sizes its scheduler to its
// share of the machine.
var shareLine = regexp.MustCompile(`members of the cluster share this machine.*members_here=(\d+) default_gomaxprocs=(\d+) gomaxprocs=(\d+)`)

// TestNodesOnOneMachineShareItsCPUs: three nodes on 127.0.0.1 with
// GOMAXPROCS unset each size the Go scheduler to a third of the CPUs the
// runtime gives one process (at least one), before they serve. The line
// logs the scheduler's size read back after the change.
func TestNodesOnOneMachineShareItsCPUs(t *testing.T) {
	t.Setenv("GOMAXPROCS", "") // the runtime and seatd treat empty as unset
	pc := newProcCluster(t, procOptions{nodes: 3})
	for _, n := range pc.nodes {
		log := readLog(t, n.logPath)
		m := shareLine.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("%s did not size its scheduler; its log:\n%s", n.id, tail(n.logPath, 30))
		}
		here, _ := strconv.Atoi(m[1])
		base, _ := strconv.Atoi(m[2])
		procs, _ := strconv.Atoi(m[3])
		if here != 3 || base < 1 || base > runtime.NumCPU() || procs != max(1, base/3) {
			t.Errorf("%s: members_here=%d default_gomaxprocs=%d gomaxprocs=%d, want 3 members, a default of 1 to %d CPUs and max(1, default/3)",
				n.id, here, base, procs, runtime.NumCPU())
		}
		if started := strings.Index(log, "node started"); started < 0 || strings.Index(log, m[0]) > started {
			t.Errorf("%s sized its scheduler after it started serving (or never started):\n%s", n.id, tail(n.logPath, 30))
		}
	}
}

// TestAChosenGOMAXPROCSIsKept: with GOMAXPROCS set, the nodes leave the
// scheduler as the user sized it (the decision is made before "node
// started", so its absence then is final).
func TestAChosenGOMAXPROCSIsKept(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	pc := newProcCluster(t, procOptions{nodes: 3})
	for _, n := range pc.nodes {
		log := readLog(t, n.logPath)
		if !strings.Contains(log, "node started") {
			t.Fatalf("%s: no \"node started\" in its log:\n%s", n.id, tail(n.logPath, 30))
		}
		if shareLine.MatchString(log) {
			t.Errorf("%s changed a GOMAXPROCS the user set:\n%s", n.id, tail(n.logPath, 30))
		}
	}
}

// readLog returns the whole log file at path.
func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}
