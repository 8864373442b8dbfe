package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/internal/testutil"
)

// An entry this build cannot apply (here one of a log format newer than it
// knows) halts every node's state machine, and every node says so in its
// log, followers too: a halted follower answers nothing, and its operator
// must learn why from it, not from the leader.
func TestEveryNodeLogsItsStateMachineHalting(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	leader := tc.waitForLeader()
	entry := fsm.AppendTick(nil, time.Now().UnixMilli())
	entry[0] = fsm.MaxFormat + 1
	if err := tc.nodes[leader].rep.Raft().Apply(entry, 5*time.Second).Error(); err != nil {
		t.Fatalf("append the newer entry: %v", err)
	}
	const line = "state machine halted"
	for _, cfg := range tc.cfgs {
		testutil.WaitFor(t, 10*time.Second, cfg.ID+" logging that its state machine halted", func() bool {
			return tc.logs.ContainsLine(fmt.Sprintf("[%s] ", cfg.ID), line)
		})
	}
}
