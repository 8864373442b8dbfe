package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/internal/testutil"
	"github.com/seatd/seatd/transport"
)

// dialer is a node-to-node dialer with the cluster's peer certificate when
// it runs under TLS: what `seat cluster` uses.
func (tc *testCluster) dialer() *transport.Dialer {
	tc.t.Helper()
	d := &transport.Dialer{}
	if tc.pki != nil {
		peer, err := transport.PeerTLS(tc.pki.file("node.crt"), tc.pki.file("node.key"), tc.pki.file("ca.crt"))
		if err != nil {
			tc.t.Fatal(err)
		}
		d.Peer = peer
	}
	return d
}

// join starts a new node id with an empty data directory and --join
// pointing at node via, and returns its index.
func (tc *testCluster) join(id string, via int) int {
	tc.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tc.t.Fatal(err)
	}
	cfg := tc.cfgs[0]
	cfg.ID = id
	cfg.Raft = ln.Addr().String()
	cfg.RaftAdvertise = ""
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(tc.t.TempDir(), id)
	cfg.Peers = nil
	cfg.Join = tc.cfgs[via].Raft
	tc.cfgs = append(tc.cfgs, cfg)
	tc.nodes = append(tc.nodes, nil)
	i := len(tc.nodes) - 1
	tc.startWith(i, ln)
	return i
}

// members asks node i for the configuration, as `seat cluster list` does.
func (tc *testCluster) members(i int) ([]cluster.Member, error) {
	return cluster.Members(tc.dialer(), tc.cfgs[i].Raft)
}

// waitVoters waits until node i reports exactly the voters want.
func (tc *testCluster) waitVoters(i int, want ...string) {
	tc.t.Helper()
	slices.Sort(want)
	var got []string
	testutil.WaitFor(tc.t, 30*time.Second, "voters "+strings.Join(want, ","), func() bool {
		ms, err := tc.members(i)
		if err != nil {
			return false
		}
		got = got[:0]
		for _, m := range ms {
			if m.Voter {
				got = append(got, m.ID)
			}
		}
		slices.Sort(got)
		return slices.Equal(got, want) && len(ms) == len(want)
	})
}

// bookingLoad books distinct seats of one event through one node, one
// request at a time, until stopped; every answer must be SUCCESS. It
// records the seats acknowledged and the longest wait for an answer.
type bookingLoad struct {
	event    string
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	acked    []int
	failures []string
	longest  time.Duration
}

// startLoad creates event and starts booking its seats through node i,
// with an id on every write when ids is set.
func (tc *testCluster) startLoad(t *testing.T, i int, event string, ids bool) *bookingLoad {
	c := tc.line(t, i)
	if got := c.Do(t, "EVENT CREATE "+event+" 100000 id=create-"+event); got != "SUCCESS" {
		t.Fatalf("EVENT CREATE = %q", got)
	}
	l := &bookingLoad{event: event, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for seat := 1; ; seat++ {
			select {
			case <-l.stop:
				return
			default:
			}
			req := fmt.Sprintf("RESERVE %d buyer event=%s", seat, event)
			if ids {
				req += fmt.Sprintf(" id=%s-%d", event, seat)
			}
			start := time.Now()
			got, err := c.Try(req)
			took := time.Since(start)
			l.mu.Lock()
			l.longest = max(l.longest, took)
			if err != nil || got != "SUCCESS" {
				l.failures = append(l.failures, fmt.Sprintf("%s: %q %v", req, got, err))
			} else {
				l.acked = append(l.acked, seat)
			}
			l.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return l
}

// count is how many bookings were acknowledged so far.
func (l *bookingLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// finish stops the load and checks that no request failed and that every
// acknowledged booking reads BOOKED through node i.
func (l *bookingLoad) finish(t *testing.T, tc *testCluster, i int) {
	t.Helper()
	close(l.stop)
	<-l.done
	t.Logf("%s: %d bookings acknowledged, longest wait for an answer %v", l.event, len(l.acked), l.longest)
	if len(l.failures) > 0 {
		t.Errorf("%s: %d requests failed, first: %s", l.event, len(l.failures), l.failures[0])
	}
	if len(l.acked) < 50 {
		t.Errorf("%s: only %d bookings acknowledged: the load hardly ran", l.event, len(l.acked))
	}
	c := tc.line(t, i)
	for _, seat := range l.acked {
		if got := c.Do(t, fmt.Sprintf("STATUS %d event=%s", seat, l.event)); got != "BOOKED buyer" {
			t.Fatalf("acknowledged seat %d of %s reads %q", seat, l.event, got)
		}
	}
}

// Two nodes join under load (one through a follower), become voters once
// caught up, and two of the original members are removed, the leader among
// them: no request fails and every acknowledged booking stays.
func TestJoinAndRemoveUnderLoad(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	leader := tc.waitForLeader()
	follower := tc.followers()[0]
	// The load runs through the one original node that stays.
	stays := 3 - leader - follower
	load := tc.startLoad(t, stays, "load", true)

	n4 := tc.join("n4", leader)
	n5 := tc.join("n5", follower) // a join sent to a follower is carried to the leader
	tc.waitVoters(stays, "n1", "n2", "n3", "n4", "n5")

	for _, gone := range []int{follower, leader} {
		if err := cluster.Remove(tc.dialer(), tc.cfgs[stays].Raft, tc.cfgs[gone].ID, false); err != nil {
			t.Fatalf("remove %s: %v", tc.cfgs[gone].ID, err)
		}
	}
	want := []string{tc.cfgs[stays].ID, "n4", "n5"}
	tc.waitVoters(stays, want...)
	for _, gone := range []int{follower, leader} {
		tc.stop(gone)
	}
	tc.waitForLeader()
	after := load.count()
	testutil.WaitFor(t, 15*time.Second, "bookings going on in the new membership", func() bool {
		return load.count() >= after+100
	})
	load.finish(t, tc, stays)

	// The new members hold the same state.
	for _, i := range []int{n4, n5} {
		if got := tc.line(t, i).Do(t, "STATUS event=load"); !strings.HasPrefix(got, "SEATS 100000 ") {
			t.Errorf("%s: STATUS event=load = %q", tc.cfgs[i].ID, got)
		}
	}
	tc.waitConverged()
}

// A joined node restarted with its data rejoins by itself; a repeated
// --join changes nothing.
func TestJoinedNodeRestartsAndRejoins(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	n4 := tc.join("n4", 0)
	tc.waitVoters(0, "n1", "n2", "n3", "n4")
	c := tc.line(t, 0)
	if got := c.Do(t, "RESERVE 1 alice id=before"); got != "SUCCESS" {
		t.Fatalf("RESERVE = %q", got)
	}
	tc.stop(n4)
	if got := c.Do(t, "RESERVE 2 bob id=while-down"); got != "SUCCESS" {
		t.Fatalf("RESERVE while n4 is down = %q", got)
	}
	tc.restart(n4) // still configured with --join: ignored, it has state
	tc.waitVoters(0, "n1", "n2", "n3", "n4")
	testutil.WaitFor(t, 15*time.Second, "n4 applies the write made while it was down", func() bool {
		s, err := tc.nodes[n4].FSM().Seat("", 2)
		return err == nil && s.Holder == "bob"
	})
	tc.stop(n4)
	tc.cfgs[n4].Join = ""
	tc.restart(n4) // and without --join
	tc.waitVoters(0, "n1", "n2", "n3", "n4")
	tc.waitConverged()

	// Its machine wiped, not removed first, it joins again at the same
	// address: the leader re-adds it as a non-voter, and it is promoted
	// once it holds the log again.
	tc.stop(n4)
	if err := os.RemoveAll(tc.cfgs[n4].DataDir); err != nil {
		t.Fatal(err)
	}
	tc.cfgs[n4].Join = tc.cfgs[0].Raft
	tc.restart(n4)
	testutil.WaitFor(t, 15*time.Second, "the leader re-adding the wiped voter", func() bool {
		return tc.logs.Contains("a voter asks to join again")
	})
	tc.waitVoters(0, "n1", "n2", "n3", "n4")
	tc.waitConverged()
	if s, err := tc.nodes[n4].FSM().Seat("", 2); err != nil || s.Holder != "bob" {
		t.Errorf("the wiped node holds seat 2 as %+v, %v", s, err)
	}
}

// A member replaced by a fresh node at a new address with the same id is
// removed at its old address and added at the new one.
func TestReplacedNodeAtANewAddress(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	leader := tc.waitForLeader()
	old := tc.followers()[0]
	id, oldAddr := tc.cfgs[old].ID, tc.cfgs[old].Raft
	tc.stop(old)
	replacement := tc.join(id, leader)
	if tc.cfgs[replacement].Raft == oldAddr {
		t.Fatal("the replacement got the old address")
	}
	testutil.WaitFor(t, 30*time.Second, id+" at its new address, a voter", func() bool {
		ms, err := tc.members(leader)
		if err != nil || len(ms) != 3 {
			return false
		}
		for _, m := range ms {
			if m.ID == id {
				return m.Voter && m.Address == tc.cfgs[replacement].Raft
			}
		}
		return false
	})
	if got := tc.line(t, replacement).Do(t, "RESERVE 3 carol id=after-replace"); got != "SUCCESS" {
		t.Fatalf("RESERVE through the replacement = %q", got)
	}
}

// A removal that would leave fewer reachable voters than a majority of the
// new configuration is refused; bad joins are refused and change nothing.
func TestMembershipRefusals(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	leader := tc.waitForLeader()
	fs := tc.followers()
	tc.stop(fs[1])
	err := cluster.Remove(tc.dialer(), tc.cfgs[leader].Raft, tc.cfgs[fs[0]].ID, false)
	if !errors.Is(err, cluster.ErrMembership) || !strings.Contains(err.Error(), "fewer than a majority") {
		t.Fatalf("removing a live voter while another is down: %v, want a refusal", err)
	}
	if err := cluster.Remove(tc.dialer(), tc.cfgs[leader].Raft, "nobody", false); !errors.Is(err, cluster.ErrMembership) {
		t.Errorf("removing an unknown member: %v", err)
	}
	d := tc.dialer()
	for _, bad := range []struct{ id, addr string }{
		{"bad id", "127.0.0.1:1"},   // not one token: the request line is malformed
		{"x/y", "127.0.0.1:1"},      // not a valid id
		{"n9", "nowhere"},           // not host:port
		{"n9", tc.cfgs[fs[0]].Raft}, // another member's address
		{"n9", "127.0.0.1:1"},       // nobody there to say which formats it applies
	} {
		if err := cluster.Join(d, tc.cfgs[leader].Raft, bad.id, bad.addr, cluster.JoinTimeout); err == nil {
			t.Errorf("JOIN %q %q accepted", bad.id, bad.addr)
		}
	}
	ms, err := tc.members(leader)
	if err != nil || len(ms) != 3 {
		t.Fatalf("members after refusals: %v %v", ms, err)
	}
	// The dead member may be removed: two of the two that remain answer.
	if err := cluster.Remove(d, tc.cfgs[leader].Raft, tc.cfgs[fs[1]].ID, false); err != nil {
		t.Fatalf("removing the dead member: %v", err)
	}
	tc.waitVoters(leader, tc.cfgs[leader].ID, tc.cfgs[fs[0]].ID)
}

// With peer mutual TLS, only a holder of a node certificate reaches the
// membership service: a plain connection gets no answer and joins nothing.
func TestJoinNeedsANodeCertificate(t *testing.T) {
	testTLS = newTestPKI(t, "tester")
	defer func() { testTLS = nil }()
	tc := newTestCluster(t, 3, 5, nil)
	leader := tc.waitForLeader()
	if err := cluster.Join(&transport.Dialer{}, tc.cfgs[leader].Raft, "rogue", "127.0.0.1:1", cluster.JoinTimeout); err == nil {
		t.Fatal("a join without a node certificate was accepted")
	}
	n4 := tc.join("n4", leader) // with the node certificate
	tc.waitVoters(leader, "n1", "n2", "n3", "n4")
	if got := tc.line(t, n4).Do(t, "RESERVE 1 tester"); got != "SUCCESS" {
		t.Fatalf("RESERVE through the joined node = %q", got)
	}
}

// `seat cluster list` and `seat cluster remove` (cluster.RunCLI) against a
// running cluster, the first address dead.
func TestSeatClusterCommand(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	leader := tc.waitForLeader()
	follower := tc.followers()[0]
	addrs := "127.0.0.1:1," + tc.cfgs[follower].Raft
	var out, errOut strings.Builder
	if code := cluster.RunCLI([]string{"--raft", addrs, "list"}, &out, &errOut); code != 0 {
		t.Fatalf("list: exit %d, %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("list printed %q", out.String())
	}
	for _, l := range lines {
		f := strings.Fields(l)
		isLeader := f[0] == tc.cfgs[leader].ID
		if len(f) < 3 || f[2] != "voter" || (len(f) == 4) != isLeader {
			t.Errorf("list line %q", l)
		}
	}
	out.Reset()
	if code := cluster.RunCLI([]string{"--raft", addrs, "remove", "nobody"}, &out, &errOut); code != 1 {
		t.Errorf("remove of an unknown member: exit %d, want 1", code)
	}
	if code := cluster.RunCLI([]string{"--raft", addrs, "remove", tc.cfgs[follower].ID}, &out, &errOut); code != 0 {
		t.Fatalf("remove: exit %d, %s", code, errOut.String())
	}
	tc.waitVoters(leader, slices.DeleteFunc([]string{"n1", "n2", "n3"}, func(id string) bool { return id == tc.cfgs[follower].ID })...)
	if code := cluster.RunCLI([]string{"--raft", "127.0.0.1:1", "list"}, &out, &errOut); code != 2 {
		t.Errorf("list with no reachable member: exit %d, want 2", code)
	}
	if code := cluster.RunCLI([]string{"frobnicate"}, &out, &errOut); code != 2 {
		t.Errorf("unknown subcommand: exit %d, want 2", code)
	}
}
