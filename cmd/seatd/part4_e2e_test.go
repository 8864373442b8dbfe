package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// SIGTERM on the leader of real processes logging --log-json: the leader
// hands its leadership over before it stops (one log line says so, another
// on the next leader says it took over), it exits 0, and every line it
// logged is one JSON object.
func TestLeaderSIGTERMHandsOffAndLogsJSON(t *testing.T) {
	pc := newProcCluster(t, procOptions{nodes: 3, extra: []string{"--log-json"}})
	leader := pc.leader()
	if code := pc.stop(leader); code != 0 {
		t.Fatalf("the leader exited %d after SIGTERM, want 0", code)
	}
	data, err := os.ReadFile(pc.nodes[leader].logPath)
	if err != nil {
		t.Fatal(err)
	}
	handedOver := false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(line, "=== ") { // the test's own markers
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", line, err)
		}
		if entry["@message"] == "shutdown: leadership handed over" {
			handedOver = true
		}
	}
	if !handedOver {
		t.Error("the stopped leader's log has no 'shutdown: leadership handed over' line")
	}
	next := pc.leader()
	if next == leader {
		t.Fatal("the stopped node still leads")
	}
	took, err := os.ReadFile(pc.nodes[next].logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(took), `"@message":"entering leader state"`) {
		t.Error("the new leader's log has no JSON line for its leadership")
	}
}
