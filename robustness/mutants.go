package robustness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// MutantFile is one file of a mutant: Target, a path relative to the module
// root, is replaced (or, when New, added) by Source, a file of the mutant's
// directory robustness/testdata/mutants/<name>/.
type MutantFile struct {
	Target string
	Source string
	New    bool
}

// Mutant is a deliberately broken build of seatd that the suite must catch.
// Production code has a no-op hook per file (fsm/hook_*.go,
// replica/hook_*.go, node/hook_*.go); a mutant replaces hook files, and may
// add files, with go build -overlay.
type Mutant struct {
	Name string
	// Breaks says what the mutant breaks.
	Breaks string
	// Exposes says which faults and checks catch it (docs/testing.md has
	// the measured matrix).
	Exposes string
	// Faults are the faults TestRobustnessCatchesMutants runs it with; none
	// means one fault-free run.
	Faults []FaultKind
	Files  []MutantFile
}

// Mutants lists every deliberately broken build, once: the tests, the
// mutant matrix and cmd/mutants use this table.
var Mutants = []Mutant{
	{
		Name:    "nodedup",
		Breaks:  "exactly-once ids ignored: a retried write is applied again",
		Exposes: "the end-of-run re-send of every write, always; without it, faults that lose an answer after the write applied (kills, isolation)",
		Faults:  []FaultKind{KillLeader, IsolateLeader},
		Files:   []MutantFile{{Target: "fsm/hook_appliedids.go", Source: "hook_appliedids.go"}},
	},
	{
		Name:    "followerread",
		Breaks:  "STATUS answered from the local state of whichever node is asked",
		Exposes: "the model, even without faults (a follower applies a commit after the leader answered); partitions make it stale for longer",
		Faults:  []FaultKind{IsolateLeader, PartitionRandom},
		Files:   []MutantFile{{Target: "node/hook_answerlocally.go", Source: "hook_answerlocally.go"}},
	},
	{
		Name:    "earlyack",
		Breaks:  "the leader answers a batch from a prediction before its entry commits",
		Exposes: "the model and lost bookings under leader loss (kill, isolation, pause); the model without faults when a read follows an answer closely",
		Faults:  []FaultKind{IsolateLeader, KillLeader},
		Files: []MutantFile{
			{Target: "replica/hook_answerbeforecommit.go", Source: "hook_answerbeforecommit.go"},
			{Target: "fsm/mutant_predict.go", Source: "mutant_predict.go", New: true},
		},
	},
	{
		Name:    "partial",
		Breaks:  "a failed multi-seat write applies its seats before the first failing one",
		Exposes: "the model and the seat histories, without faults",
		Files:   []MutantFile{{Target: "fsm/hook_partialwrite.go", Source: "hook_partialwrite.go"}},
	},
	{
		Name:    "noexpire",
		Breaks:  "holds never expire",
		Exposes: "the model and the final reads (hold did not expire), without faults",
		Files:   []MutantFile{{Target: "fsm/hook_noexpiry.go", Source: "hook_noexpiry.go"}},
	},
	{
		Name:    "localclock",
		Breaks:  "holds judged expired by each node's own clock at apply time, not by the entry's log time",
		Exposes: "replica divergence (nodes free holds at different log positions and record different times); a restarted node replays old entries with a later clock",
		Faults:  []FaultKind{KillRandom},
		Files:   []MutantFile{{Target: "fsm/hook_expiryclock.go", Source: "hook_expiryclock.go"}},
	},
	{
		Name:    "selfboot",
		Breaks:  "a fresh node started with --join bootstraps a cluster of its own instead of joining",
		Exposes: "replace-node: clients of the replaced node book seats the real cluster has booked (the model, double bookings, lost bookings, replica divergence)",
		Faults:  []FaultKind{ReplaceNode},
		Files:   []MutantFile{{Target: "replica/hook_joinbootstrap.go", Source: "hook_joinbootstrap.go"}},
	},
	{
		Name:    "alwaysready",
		Breaks:  "/readyz answers 200 on a node that knows no leader",
		Exposes: "the readiness check of the partitions (isolate-leader, partition-random, partition-minority)",
		Faults:  []FaultKind{IsolateLeader},
		Files:   []MutantFile{{Target: "replica/hook_ready.go", Source: "hook_ready.go"}},
	},
}

// MutantByName returns the mutant of that name.
func MutantByName(name string) (*Mutant, error) {
	for i := range Mutants {
		if Mutants[i].Name == name {
			return &Mutants[i], nil
		}
	}
	return nil, fmt.Errorf("no mutant %q", name)
}

// ModuleRoot returns the directory of the seatd module (go env GOMOD).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	return filepath.Dir(mod), nil
}

// WriteOverlay writes the go build -overlay file of the mutant into dir and
// returns its path. root is the module root. It checks that every file it
// replaces exists and every file it adds does not, so that a renamed hook
// makes the mutant fail loudly rather than build unbroken.
func (m *Mutant) WriteOverlay(root, dir string) (string, error) {
	replace := map[string]string{}
	for _, f := range m.Files {
		target := filepath.Join(root, filepath.FromSlash(f.Target))
		source := filepath.Join(root, "robustness", "testdata", "mutants", m.Name, f.Source)
		if _, err := os.Stat(source); err != nil {
			return "", fmt.Errorf("mutant %s: %w", m.Name, err)
		}
		_, err := os.Stat(target)
		switch {
		case f.New && err == nil:
			return "", fmt.Errorf("mutant %s adds %s, which exists", m.Name, f.Target)
		case !f.New && err != nil:
			return "", fmt.Errorf("mutant %s replaces %s: %w", m.Name, f.Target, err)
		}
		replace[target] = source
	}
	data, err := json.MarshalIndent(map[string]any{"Replace": replace}, "", "  ")
	if err != nil {
		return "", fmt.Errorf("mutant %s: overlay: %w", m.Name, err)
	}
	path := filepath.Join(dir, "overlay-"+m.Name+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("mutant %s: overlay: %w", m.Name, err)
	}
	return path, nil
}

// goCommand runs go with args in the module root and returns its error with
// its output.
func goCommand(root string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// BuildSeatd builds the seatd binary into out, broken as m says (nil: the
// real build). Scratch files go to dir.
func BuildSeatd(root, dir, out string, m *Mutant) error {
	overlay := ""
	if m != nil {
		var err error
		if overlay, err = m.WriteOverlay(root, dir); err != nil {
			return err
		}
	}
	return BuildSeatdOverlay(root, out, overlay)
}

// BuildSeatdOverlay builds the seatd binary into out with a go build
// -overlay file ("" for none): a mutant's, or a candidate fix to try under
// the suite without changing the tree.
func BuildSeatdOverlay(root, out, overlay string) error {
	args := []string{"build", "-o", out}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	if err := goCommand(root, append(args, "./cmd/seatd")...); err != nil {
		return fmt.Errorf("build seatd: %w", err)
	}
	return nil
}

// VetMutant type-checks and vets the packages a mutant changes, with its
// overlay: a quick check that it still compiles against today's code.
func VetMutant(root, dir string, m *Mutant) error {
	overlay, err := m.WriteOverlay(root, dir)
	if err != nil {
		return err
	}
	pkgs := map[string]bool{}
	var args []string
	for _, f := range m.Files {
		if p := "./" + filepath.ToSlash(filepath.Dir(f.Target)); !pkgs[p] {
			pkgs[p] = true
			args = append(args, p)
		}
	}
	return goCommand(root, append([]string{"vet", "-overlay", overlay}, args...)...)
}
