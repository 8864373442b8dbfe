package node

import (
	"errors"
	"strings"
	"testing"
)

// A node started with --join under an id the leader's join would refuse
// fails at once with a clear error, instead of asking in vain; the same id
// stays allowed for a node of --peers, as it always was.
func TestValidateRefusesAnIDAJoinCannotAdd(t *testing.T) {
	for _, tc := range []struct {
		id, join string
		peers    bool
		ok       bool
	}{
		{id: "n4", join: "127.0.0.1:8001", ok: true},
		{id: "node-4.east_1", join: "127.0.0.1:8001", ok: true},
		{id: "n#4", join: "127.0.0.1:8001"},
		{id: strings.Repeat("n", 65), join: "127.0.0.1:8001"},
		{id: "n#4", peers: true, ok: true},
	} {
		cfg := testConfig()
		cfg.ID, cfg.Join = tc.id, tc.join
		cfg.Listen, cfg.Raft, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:8004", t.TempDir()
		if tc.peers {
			cfg.Peers = []Peer{{ID: tc.id, Addr: cfg.Raft}}
		}
		err := cfg.Validate()
		switch {
		case tc.ok && err != nil:
			t.Errorf("id %q (join %q): %v", tc.id, tc.join, err)
		case !tc.ok && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "a node that joins needs an id")):
			t.Errorf("id %q with --join: error %v, want the join id rule", tc.id, err)
		}
	}
}
