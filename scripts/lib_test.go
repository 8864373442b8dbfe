// Package scripts holds only tests: they check the shell helpers in lib.sh
// that the cluster, benchmark and demo scripts share.
package scripts

import (
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// nodeProcs runs lib.sh's node_procs for nodes with the given GOMAXPROCS
// in the environment ("" for none).
func nodeProcs(t *testing.T, nodes int, gomaxprocs string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", `source ./lib.sh && node_procs "$1"`, "bash", strconv.Itoa(nodes))
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/local/bin"}
	if gomaxprocs != "" {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+gomaxprocs)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node_procs %d: %v: %s", nodes, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Co-located nodes share the CPUs; a GOMAXPROCS the user set is kept.
func TestNodeProcs(t *testing.T) {
	cpus := runtime.NumCPU()
	for _, nodes := range []int{1, 3, 5, cpus + 1} {
		want := strconv.Itoa(max(cpus/nodes, 1))
		if got := nodeProcs(t, nodes, ""); got != want {
			t.Errorf("node_procs %d on %d CPUs = %q, want %q", nodes, cpus, got, want)
		}
	}
	if got := nodeProcs(t, 3, "7"); got != "7" {
		t.Errorf("node_procs 3 with GOMAXPROCS=7 = %q, want the user's 7", got)
	}
}
