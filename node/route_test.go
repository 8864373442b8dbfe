package node

import (
	"sync"
	"testing"
	"time"

	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/replica"
)

// fakeReplica stands in for a Raft group, so that routing is tested
// without one: the test sets the role it plays and sees which calls reach
// its batchers.
type fakeReplica struct {
	mu         sync.Mutex
	leader     bool
	ready      bool
	leaderAddr string
	format     uint8
	seats      uint32
	changed    chan struct{}

	writes chan replica.Call
	reads  chan replica.Call
}

func newFakeReplica() *fakeReplica {
	return &fakeReplica{
		format:  fsm.FormatV2,
		seats:   5,
		changed: make(chan struct{}),
		writes:  make(chan replica.Call, 16),
		reads:   make(chan replica.Call, 16),
	}
}

// set changes the role under the lock and wakes whoever waits for a change.
func (f *fakeReplica) set(change func(f *fakeReplica)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeReplica) Write(c replica.Call) { f.writes <- c }
func (f *fakeReplica) Read(c replica.Call)  { f.reads <- c }
func (f *fakeReplica) IsLeader() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader
}
func (f *fakeReplica) LeaderReady() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader && f.ready
}
func (f *fakeReplica) Leader() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leader {
		return "self:1", "self"
	}
	return f.leaderAddr, ""
}
func (f *fakeReplica) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}
func (f *fakeReplica) Format() uint8 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.format
}
func (f *fakeReplica) DefaultSeats() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seats
}

// routingNode is a Node with only what routing needs: no listeners, no
// Raft, the fake as its replica.
func routingNode(t *testing.T, f *fakeReplica) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.LeaderWait = 200 * time.Millisecond
	cfg.RequestTimeout = 2 * time.Second
	n := &Node{cfg: cfg, replica: f, stop: make(chan struct{})}
	t.Cleanup(func() { close(n.stop) })
	return n
}

// send submits line as a client request and returns its call.
func send(t *testing.T, n *Node, line string, forwarded bool) *call {
	t.Helper()
	req, err := protocol.Parse([]byte(line))
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	c := n.newCall()
	c.req, c.forwarded = req, forwarded
	n.submit(c)
	return c
}

// answer waits (bounded) for the call's answer.
func answer(t *testing.T, c *call) string {
	t.Helper()
	select {
	case <-c.done:
		return c.resp
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no answer in 5 s", protocol.AppendLine(nil, c.req))
		return ""
	}
}

// reached waits (bounded) for a call on one of the fake's batchers.
func reached(t *testing.T, ch chan replica.Call, what string) replica.Call {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		t.Fatalf("no call reached the %s batcher in 5 s", what)
		return nil
	}
}

func notAnswered(t *testing.T, c *call) {
	t.Helper()
	select {
	case <-c.done:
		t.Fatalf("answered %q, want no answer yet", c.resp)
	default:
	}
}

func TestRouteOnAReadyLeader(t *testing.T) {
	f := newFakeReplica()
	f.set(func(f *fakeReplica) { f.leader, f.ready = true, true })
	n := routingNode(t, f)

	w := send(t, n, "RESERVE 3 alice", false)
	reached(t, f.writes, "write").Finish(protocol.Success)
	if got := answer(t, w); got != protocol.Success {
		t.Errorf("write answered %q", got)
	}
	r := send(t, n, "STATUS 3", false)
	reached(t, f.reads, "read").Finish("BOOKED alice")
	if got := answer(t, r); got != "BOOKED alice" {
		t.Errorf("read answered %q", got)
	}
	// A seat the default event cannot have is answered at once, unless
	// an id may carry a recorded answer.
	if got := answer(t, send(t, n, "RESERVE 6 alice", false)); got != protocol.FailedInvalidSeat {
		t.Errorf("RESERVE 6 = %q", got)
	}
	withID := send(t, n, "RESERVE 6 alice id=k", false)
	reached(t, f.writes, "write").Finish(protocol.FailedInvalidSeat)
	answer(t, withID)

	// Part 3 before the cluster's format is raised: ERROR BUSY, nothing
	// reaches the log.
	f.set(func(f *fakeReplica) { f.format = fsm.FormatV1 })
	if got := answer(t, send(t, n, "HOLD 1,2 alice", false)); got != replica.FormatBusy {
		t.Errorf("HOLD at format 1 = %q", got)
	}
	part1 := send(t, n, "RESERVE 1", false)
	reached(t, f.writes, "write").Finish(protocol.Success)
	answer(t, part1)
}

// A leader that has not applied its term's barrier holds requests back
// until it is ready.
func TestRouteWaitsForTheLeadersBarrier(t *testing.T) {
	f := newFakeReplica()
	f.set(func(f *fakeReplica) { f.leader = true })
	n := routingNode(t, f)
	n.cfg.LeaderWait = 3 * time.Second
	c := send(t, n, "RESERVE 1 a id=x", false)
	select {
	case <-f.writes:
		t.Fatal("a write reached the batcher before the leader was ready")
	case <-time.After(100 * time.Millisecond):
	}
	notAnswered(t, c)
	f.set(func(f *fakeReplica) { f.ready = true })
	reached(t, f.writes, "write").Finish(protocol.Success)
	if got := answer(t, c); got != protocol.Success {
		t.Errorf("answered %q", got)
	}
}

func TestRouteWithoutALeader(t *testing.T) {
	f := newFakeReplica()
	n := routingNode(t, f)
	start := time.Now()
	if got := answer(t, send(t, n, "RESERVE 1 a", false)); got != protocol.ErrorLine(protocol.NoLeader, "") {
		t.Errorf("answered %q, want NO_LEADER", got)
	}
	if waited := time.Since(start); waited < n.cfg.LeaderWait {
		t.Errorf("NO_LEADER after %v, before the leader wait of %v", waited, n.cfg.LeaderWait)
	}
}

// A request forwarded to a node that is not the leader goes back to the
// follower that sent it (one hop at most).
func TestRouteForwardedToAFollower(t *testing.T) {
	f := newFakeReplica()
	f.set(func(f *fakeReplica) { f.leaderAddr = "elsewhere:1" })
	n := routingNode(t, f)
	if got := answer(t, send(t, n, "RESERVE 1 a", true)); got != protocol.ErrorLine(protocol.NotLeader, "") {
		t.Errorf("answered %q, want NOT_LEADER", got)
	}
}

// A write the replica hands back (its leader lost leadership before the
// entry was applied) is routed again and lands on the next leader.
func TestRouteAgainAfterTheReplicaHandsACallBack(t *testing.T) {
	f := newFakeReplica()
	f.set(func(f *fakeReplica) { f.leader, f.ready = true, true })
	n := routingNode(t, f)
	n.cfg.LeaderWait = 3 * time.Second
	c := send(t, n, "RESERVE 2 a id=r", false)
	first := reached(t, f.writes, "write")
	f.set(func(f *fakeReplica) { f.leader, f.ready = false, false })
	first.SetAttempted(false)
	first.Reroute()
	notAnswered(t, c)
	f.set(func(f *fakeReplica) { f.leader, f.ready = true, true })
	reached(t, f.writes, "write").Finish(protocol.Success)
	if got := answer(t, c); got != protocol.Success {
		t.Errorf("answered %q", got)
	}
}

func TestRouteWhileClosing(t *testing.T) {
	f := newFakeReplica()
	f.set(func(f *fakeReplica) { f.leader, f.ready = true, true })
	n := routingNode(t, f)
	n.closing.Store(true)
	if got := answer(t, send(t, n, "RESERVE 1 a", false)); got != protocol.ErrorLine(protocol.ShuttingDown, "") {
		t.Errorf("answered %q, want SHUTTING_DOWN", got)
	}
	if len(f.writes) != 0 {
		t.Error("a write reached the batcher while the node was closing")
	}
}

// A forwarded write with an id whose leader answered ERROR TIMEOUT (it shut
// down or lost leadership with the write in its log) is asked again, here
// of the next leader; without an id the answer goes to the client.
func TestForwardedTimeoutWithAnIDIsAskedAgain(t *testing.T) {
	f := newFakeReplica()
	n := routingNode(t, f)
	n.cfg.LeaderWait = 3 * time.Second
	timeout := protocol.ErrorLine(protocol.Timeout, "the node shut down before the answer; outcome unknown")

	withID := n.newCall()
	withID.req, _ = protocol.Parse([]byte("RESERVE 1 a id=k"))
	withID.deadline = time.Now().Add(n.cfg.RequestTimeout)
	n.inflight.Add(1)
	withID.attempted = true
	n.forwardedAnswer(withID, timeout, nil)
	notAnswered(t, withID)
	f.set(func(f *fakeReplica) { f.leader, f.ready = true, true })
	reached(t, f.writes, "write").Finish(protocol.Success)
	if got := answer(t, withID); got != protocol.Success {
		t.Errorf("write with an id answered %q, want the next leader's SUCCESS", got)
	}

	plain := n.newCall()
	plain.req, _ = protocol.Parse([]byte("RESERVE 2 a"))
	plain.deadline = time.Now().Add(n.cfg.RequestTimeout)
	n.inflight.Add(1)
	n.forwardedAnswer(plain, timeout, nil)
	if got := answer(t, plain); got != timeout {
		t.Errorf("write without an id answered %q, want the leader's %q", got, timeout)
	}
}
