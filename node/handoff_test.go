package node

import (
	"testing"
	"time"

	"github.com/seatd/seatd/internal/testutil"
)

// A leader stopped gracefully (SIGTERM in seatd) hands its leadership to a
// follower first: clients of the other nodes, writing with and without
// ids, see no failed request, and every acknowledged booking stays.
func TestStoppingLeaderHandsOffWithoutFailedRequests(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	leader := tc.waitForLeader()
	fs := tc.followers()
	withIDs := tc.startLoad(t, fs[0], "with-ids", true)
	without := tc.startLoad(t, fs[1], "without-ids", false)
	testutil.WaitFor(t, 15*time.Second, "both loads running", func() bool {
		return withIDs.count() >= 50 && without.count() >= 50
	})
	before := withIDs.count() + without.count()
	tc.stop(leader)
	if !tc.logs.Contains("shutdown: leadership handed over") {
		t.Error("the stopping leader did not hand its leadership over")
	}
	testutil.WaitFor(t, 15*time.Second, "both loads going on after the hand-off", func() bool {
		return withIDs.count()+without.count() >= before+100
	})
	withIDs.finish(t, tc, fs[0])
	without.finish(t, tc, fs[1])
	tc.waitConverged()
}
