package robustness

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var (
	soak     = flag.Duration("soak", 0, "run random schedules for this long (scripts/soak.sh)")
	seedFlag = flag.Int64("seed", 0, "run only this seed (reproduce a failure)")
	keepDir  = flag.String("keep", "", "directory for run artifacts (default: a temporary directory, kept on failure)")
	overlay  = flag.String("seatd-overlay", "", "go build -overlay file for the seatd the suite tests (try a fix without changing the tree)")
)

// requireNetns skips when the machine cannot build test networks, unless
// SEATD_REQUIRE_NETNS=1 (set by .ci/run), which makes that a failure.
func requireNetns(t *testing.T) {
	t.Helper()
	if err := CheckPrivileges(); err != nil {
		if os.Getenv("SEATD_REQUIRE_NETNS") == "1" {
			t.Fatalf("robustness suite cannot run: %v", err)
		}
		t.Skipf("robustness suite needs root with ip and nft (set SEATD_REQUIRE_NETNS=1 to make this fatal): %v", err)
	}
}

// buildSeatd builds the seatd binary into dir: the real build (m nil) or a
// mutant's.
func buildSeatd(t *testing.T, dir string, m *Mutant) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "seatd")
	if m != nil {
		bin += "-" + m.Name
		err = BuildSeatd(root, dir, bin, m)
	} else {
		err = BuildSeatdOverlay(root, bin, *overlay)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// schedule is one named configuration of the suite.
type schedule struct {
	name   string
	nodes  int
	groups int // seat groups in play at once, per event: 1 = high contention
	mix    Mix
	faults []FaultKind
	count  int
	flags  []string // extra seatd flags
}

// ciSchedules run on every submission: both cluster sizes, both seat
// spaces, both operation mixes, every fault kind.
var ciSchedules = []schedule{
	{"3n-contention", 3, 1, MixPart3, []FaultKind{KillLeader, PauseLeader, IsolateLeader, PartitionBridge, KillMajority}, 5, nil},
	{"3n-wide", 3, 250, MixPart3, []FaultKind{PartitionRandom, KillRandom, ReplaceNode, PartitionMinority, KillLeader}, 5, nil},
	{"5n-contention", 5, 2, MixPart3, []FaultKind{IsolateLeader, PartitionBridge, ReplaceNode, KillMajority, PauseLeader, PartitionMinority}, 6, nil},
	{"5n-wide", 5, 250, MixPart3, []FaultKind{KillLeader, PartitionRandom, KillRandom, PauseLeader}, 4, nil},
	// The four above run the default log store, hashicorp/raft-wal. This
	// one keeps raft-boltdb, still selectable with --log-store boltdb and
	// what older data directories hold, under every kind of fault.
	{"3n-boltdb", 3, 2, MixPart3, []FaultKind{KillLeader, IsolateLeader, PauseLeader, KillRandom, PartitionMinority}, 4, []string{"--log-store", "boltdb"}},
}

// nodeFlags shrink timings so faults resolve quickly, and make snapshots
// frequent so that ids and seats cross snapshot/restore during the run.
var nodeFlags = []string{
	"--heartbeat-timeout", "400ms", "--election-timeout", "400ms", "--leader-lease-timeout", "300ms",
	"--leader-wait", "2s", "--request-timeout", "4s",
	"--snapshot-threshold", "256", "--snapshot-interval", "500ms", "--trailing-logs", "128",
	"--log-level", "debug",
}

// opsPerPartition is about how many operations each partition (a group of
// seats of one event) gets while its window is in play: enough for the
// window to stay a few seconds, longer than most holds live.
const opsPerPartition = 1500

func runConfig(t *testing.T, bin, dir string, netID int, s schedule, seed int64) RunConfig {
	clients := 4 * s.nodes
	windowOps := opsPerPartition * s.groups * (1 + len(workloadEvents))
	if s.mix == MixPart1 {
		windowOps = 120 * s.groups * GroupSize
	}
	return RunConfig{
		Binary:     bin,
		Dir:        dir,
		NetID:      netID,
		Nodes:      s.nodes,
		Seats:      200000,
		Seed:       seed,
		Faults:     s.faults,
		FaultCount: s.count,
		MinHold:    time.Second,
		MaxHold:    2500 * time.Millisecond,
		Warmup:     3 * time.Second,
		Gap:        time.Second,
		Workload: WorkloadConfig{
			Clients:        clients,
			Mix:            s.mix,
			Groups:         s.groups,
			WindowOps:      windowOps,
			EventSeats:     200000,
			Churn:          3 * time.Second,
			Interval:       5 * time.Millisecond,
			AttemptTimeout: 3 * time.Second,
			OpTimeout:      12 * time.Second,
		},
		MinRate:       100,
		RecoveryBound: 15 * time.Second,
		CheckTimeout:  2 * time.Minute,
		KeepHistory:   *keepDir != "",
		NodeFlags:     append(append([]string(nil), nodeFlags...), s.flags...),
		Logf:          t.Logf,
	}
}

func artifactDir(t *testing.T, name string) string {
	base := *keepDir
	if base == "" {
		var err error
		if base, err = os.MkdirTemp("", "seatd-robustness-"); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, name)
	t.Cleanup(func() {
		if !t.Failed() && *keepDir == "" {
			os.RemoveAll(base)
		}
	})
	return dir
}

// TestRobustness is the bounded suite CI runs: several seeded schedules on
// three and five nodes with kills, pauses and real partitions, each checked
// for every guarantee.
func TestRobustness(t *testing.T) {
	if *soak > 0 {
		t.Skip("-soak given: TestSoak runs instead")
	}
	requireNetns(t)
	bin := buildSeatd(t, t.TempDir(), nil)
	for i, s := range ciSchedules {
		s := s
		seed := int64(100 + i)
		if *seedFlag != 0 {
			seed = *seedFlag
		}
		t.Run(s.name, func(t *testing.T) {
			rep, err := Run(runConfig(t, bin, artifactDir(t, fmt.Sprintf("%s-seed%d", s.name, seed)), 40+i, s, seed))
			if err != nil {
				t.Fatalf("run could not be carried out: %v", err)
			}
			t.Log(rep.Summary())
			for _, f := range rep.Faults {
				t.Logf("  %s", f)
			}
			if rep.Failed() {
				t.Fatalf("violations (artifacts in %s):\n%s", rep.Artifacts, joinLines(rep.Violations))
			}
		})
	}
}

// TestSoak runs random schedules until -soak has passed, printing one
// summary line per schedule (scripts/soak.sh).
func TestSoak(t *testing.T) {
	if *soak == 0 {
		t.Skip("only with -soak")
	}
	requireNetns(t)
	bin := buildSeatd(t, t.TempDir(), nil)
	deadline := time.Now().Add(*soak)
	failed := 0
	for k := 0; time.Now().Before(deadline); k++ {
		seed := time.Now().UnixNano() % 1_000_000
		if *seedFlag != 0 {
			seed = *seedFlag
		}
		s := ciSchedules[k%len(ciSchedules)]
		s.faults, s.count = AllFaults, 8
		if k/len(ciSchedules)%2 == 1 {
			// Every other round swaps the mixes.
			s.mix = 1 - s.mix
		}
		rep, err := Run(runConfig(t, bin, artifactDir(t, fmt.Sprintf("soak-%s-seed%d", s.name, seed)), 60+k%100, s, seed))
		if err != nil {
			t.Errorf("seed %d: run could not be carried out: %v", seed, err)
			failed++
			continue
		}
		fmt.Printf("SOAK %s %s\n", s.name, rep.Summary())
		if rep.Failed() {
			failed++
			t.Errorf("seed %d (%s): violations:\n%s", seed, s.name, joinLines(rep.Violations))
		}
	}
	if failed > 0 {
		t.Fatalf("%d soak runs failed", failed)
	}
}

func joinLines(ss []string) string {
	out := ""
	for _, s := range ss {
		out += "  " + s + "\n"
	}
	return out
}
