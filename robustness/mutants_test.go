package robustness

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

var mutantMatrix = flag.Bool("mutant-matrix", false, "run every mutant against every single fault kind and print which catch it")

// mutant is a deliberately broken build the suite must catch.
type mutant struct {
	tag    string
	what   string
	faults []FaultKind
}

var mutants = []mutant{
	{"seatd_mut_nodedup", "exactly-once ids ignored", []FaultKind{KillLeader, IsolateLeader}},
	{"seatd_mut_followerread", "STATUS answered from a follower's local state", []FaultKind{IsolateLeader, PartitionRandom}},
	{"seatd_mut_earlyack", "writes answered before their entry commits", []FaultKind{IsolateLeader, KillLeader}},
}

// TestRobustnessCatchesMutants shows the suite is not vacuous: each broken
// build must fail a short run.
func TestRobustnessCatchesMutants(t *testing.T) {
	if *soak > 0 || *mutantMatrix {
		t.Skip("soak or matrix mode")
	}
	requireNetns(t)
	dir := t.TempDir()
	for i, m := range mutants {
		m := m
		t.Run(m.tag, func(t *testing.T) {
			bin := buildSeatd(t, dir, m.tag)
			s := schedule{name: m.tag, nodes: 3, window: 5, faults: m.faults, count: len(m.faults)}
			// A mutant is expected to fail: its artifacts go with the
			// test's temporary directory.
			cfg := runConfig(t, bin, t.TempDir(), 80+i, s, int64(200+i))
			cfg.Logf = func(string, ...any) {}
			rep, err := Run(cfg)
			if err != nil {
				t.Fatalf("run could not be carried out: %v", err)
			}
			if !rep.Failed() {
				t.Fatalf("the suite did not catch %q: %s", m.what, rep.Summary())
			}
			t.Logf("caught %q with faults %v: %d violations, first: %s", m.what, m.faults, len(rep.Violations), rep.Violations[0])
		})
	}
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
	table.WriteString("\n")
	for i, m := range mutants {
		bin := buildSeatd(t, dir, m.tag)
		fmt.Fprintf(&table, "| %s |", m.tag)
		for j, k := range kinds {
			s := schedule{name: m.tag, nodes: 3, window: 5, faults: []FaultKind{k}, count: 2}
			if k == "none" {
				s.count = 0
			}
			cfg := runConfig(t, bin, t.TempDir(), 100+i*10+j, s, int64(300+j))
			cfg.SkipResend = true
			cfg.Logf = func(string, ...any) {}
			if k == "none" {
				cfg.Gap = 8e9
			}
			rep, err := Run(cfg)
			cell := "error"
			switch {
			case err != nil:
				cell = "error: " + err.Error()
			case rep.Failed():
				cell = "caught: " + classify(rep.Violations)
			default:
				cell = "missed"
			}
			fmt.Fprintf(&table, " %s |", cell)
			t.Logf("%s under %s: %s", m.tag, k, cell)
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
		case strings.Contains(v, "not linearizable"):
			c = "linearizability"
		case strings.Contains(v, "double booking"):
			c = "double-booking"
		case strings.Contains(v, "booking lost"):
			c = "lost-booking"
		case strings.Contains(v, "applied twice"), strings.Contains(v, "re-sent"):
			c = "id-resend"
		case strings.Contains(v, "converge"):
			c = "replicas-differ"
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
