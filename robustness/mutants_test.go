package robustness

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	mutantMatrix = flag.Bool("mutant-matrix", false, "run every mutant against every single fault kind and print which catch it")
	mutantLog    = flag.Bool("mutant-log", false, "log the mutant runs as the suite's runs are logged")
)

// mutantSchedule is the short run a mutant gets: three nodes, high
// contention, the part-3 mix; without faults, a longer warm-up instead.
func mutantSchedule(t *testing.T, bin string, netID int, m *Mutant, faults []FaultKind, count int, seed int64) RunConfig {
	s := schedule{name: m.Name, nodes: 3, groups: 1, mix: MixPart3, faults: faults, count: count}
	// A mutant is expected to fail: its artifacts go with the test's
	// temporary directory.
	cfg := runConfig(t, bin, t.TempDir(), netID, s, seed)
	if !*mutantLog {
		cfg.Logf = func(string, ...any) {}
	}
	if count == 0 {
		cfg.Warmup = 6 * time.Second
	}
	return cfg
}

// TestMutantsCompile checks that every mutant still compiles against
// today's code (go vet with its overlay); it needs no root.
func TestMutantsCompile(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range Mutants {
		m := &Mutants[i]
		t.Run(m.Name, func(t *testing.T) {
			if err := VetMutant(root, dir, m); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRobustnessCatchesMutants shows the suite is not vacuous: each broken
// build must fail a short run, by a violation of a guarantee.
func TestRobustnessCatchesMutants(t *testing.T) {
	if *soak > 0 || *mutantMatrix {
		t.Skip("soak or matrix mode")
	}
	requireNetns(t)
	dir := t.TempDir()
	for i := range Mutants {
		m := &Mutants[i]
		t.Run(m.Name, func(t *testing.T) {
			bin := buildSeatd(t, dir, m)
			rep, err := Run(mutantSchedule(t, bin, 80+i, m, m.Faults, len(m.Faults), int64(200+i)))
			if err != nil {
				t.Fatalf("run could not be carried out: %v", err)
			}
			if !rep.Caught() {
				t.Fatalf("the suite did not catch %q: %s\n%s", m.Breaks, rep.Summary(), joinLines(rep.Violations))
			}
			t.Logf("caught %q with faults %v by %s: %d violations, first: %s", m.Breaks, m.Faults,
				classify(rep.Violations), len(rep.Violations), firstCaught(rep.Violations))
		})
	}
}

func firstCaught(vs []string) string {
	for _, v := range vs {
		if !strings.HasPrefix(v, notCounted) {
			return v
		}
	}
	return ""
}

// TestMutantMatrix (with -mutant-matrix) runs each mutant against each
// fault kind alone, plus a fault-free run, without the end-of-run re-send
// check, and prints which faults expose it. The table in docs/testing.md
// comes from here.
func TestMutantMatrix(t *testing.T) {
	if !*mutantMatrix {
		t.Skip("only with -mutant-matrix")
	}
	requireNetns(t)
	dir := t.TempDir()
	kinds := append([]FaultKind{"none"}, AllFaults...)
	var table strings.Builder
	fmt.Fprintf(&table, "| mutant |")
	for _, k := range kinds {
		fmt.Fprintf(&table, " %s |", k)
	}
	table.WriteString("\n|---|")
	for range kinds {
		table.WriteString("---|")
	}
	table.WriteString("\n")
	for i := range Mutants {
		m := &Mutants[i]
		bin := buildSeatd(t, dir, m)
		fmt.Fprintf(&table, "| %s |", m.Name)
		for j, k := range kinds {
			faults, count := []FaultKind{k}, 2
			if k == "none" {
				faults, count = nil, 0
			}
			cfg := mutantSchedule(t, bin, 100+(i*10+j)%150, m, faults, count, int64(300+j))
			cfg.SkipResend = true
			rep, err := Run(cfg)
			var cell string
			switch {
			case err != nil:
				cell = "error: " + err.Error()
			case rep.Caught():
				cell = "caught: " + classify(rep.Violations)
			default:
				cell = "missed"
			}
			fmt.Fprintf(&table, " %s |", cell)
			t.Logf("%s under %s: %s", m.Name, k, cell)
		}
		table.WriteString("\n")
	}
	fmt.Println(table.String())
}

// classify names the checks that found violations.
func classify(vs []string) string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vs {
		var c string
		switch {
		case strings.HasPrefix(v, notCounted):
			continue
		case strings.Contains(v, "not linearizable"), strings.Contains(v, "checker gave up"):
			c = "linearizability"
		case strings.Contains(v, "double booking"):
			c = "double-booking"
		case strings.Contains(v, "booking lost"):
			c = "lost-booking"
		case strings.Contains(v, "hold did not expire"):
			c = "hold-expiry"
		case strings.Contains(v, "seat history"):
			c = "history"
		case strings.Contains(v, "applied twice"), strings.Contains(v, "re-sent"):
			c = "id-resend"
		case strings.Contains(v, "converge"):
			c = "replicas-differ"
		case strings.Contains(v, "exited by itself"):
			c = "node-exited"
		case strings.HasPrefix(v, "readiness:"):
			c = "readiness"
		case strings.Contains(v, "reads failed"), strings.Contains(v, "re-sending writes failed"):
			c = "unavailable"
		default:
			c = "other"
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return strings.Join(out, "+")
}
