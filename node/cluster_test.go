package node

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/internal/testutil"
	"github.com/seatd/seatd/replica"
)

// testCluster is a set of in-process nodes on real loopback sockets.
type testCluster struct {
	t     *testing.T
	nodes []*Node // nil while a node is stopped
	cfgs  []Config
	logs  *testutil.LogSink
	pki   *testPKI // set when every port is under TLS
}

// testTLS, when set, puts every port of every test cluster under TLS
// (TestFoundationUnderTLS).
var testTLS *testPKI

// line opens a protocol connection to node i, over TLS when the cluster
// runs under TLS.
func (tc *testCluster) line(t testing.TB, i int) *testutil.LineConn {
	t.Helper()
	if tc.pki == nil {
		return testutil.DialLine(t, tc.addr(i))
	}
	c, err := tc.pki.tlsLine(t.(*testing.T), tc.addr(i), "tester")
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	return c
}

// testConfig returns timings shrunk for tests, still safe under -race on
// two cores.
func testConfig() Config {
	cfg := DefaultConfig()
	// The production timings: shorter leases make a leader starved of CPU
	// (100 TLS handshakes under -race on two cores) step down needlessly.
	cfg.HeartbeatTimeout = 500 * time.Millisecond
	cfg.ElectionTimeout = 500 * time.Millisecond
	cfg.LeaderLeaseTimeout = 500 * time.Millisecond
	cfg.LeaderWait = 4 * time.Second
	cfg.RequestTimeout = 8 * time.Second
	return cfg
}

// newTestCluster starts n nodes with seats seats; tweak may adjust each
// node's configuration.
func newTestCluster(t *testing.T, n, seats int, tweak func(*Config)) *testCluster {
	t.Helper()
	tc := &testCluster{t: t, logs: testutil.NewLogSink(t), pki: testTLS}
	raftLns := make([]net.Listener, n)
	var peers []Peer
	for i := range raftLns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		raftLns[i] = ln
		peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i+1), Addr: ln.Addr().String()})
	}
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		cfg := testConfig()
		cfg.ID = peers[i].ID
		cfg.Raft = peers[i].Addr
		cfg.Listen = "127.0.0.1:0"
		cfg.DataDir = filepath.Join(dir, cfg.ID)
		cfg.Peers = peers
		cfg.Seats = seats
		if tc.pki != nil {
			// Every port under TLS; no client identities, which would
			// forbid the many holders these tests book for.
			tc.pki.secure(&cfg)
			cfg.TLSClientCA = ""
		}
		if tweak != nil {
			tweak(&cfg)
		}
		tc.cfgs = append(tc.cfgs, cfg)
	}
	tc.nodes = make([]*Node, n)
	for i := range tc.cfgs {
		tc.startWith(i, raftLns[i])
	}
	t.Cleanup(tc.closeAll)
	tc.waitForLeader()
	return tc
}

func (tc *testCluster) startWith(i int, raftLn net.Listener) {
	cfg := tc.cfgs[i]
	cfg.RaftListener = raftLn
	if tc.nodes[i] == nil && cfg.Listen != "127.0.0.1:0" {
		cfg.ClientListener = nil
	}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{
		Name: cfg.ID, Level: hclog.Debug, Output: tc.logs.Prefixed(cfg.ID),
	})
	n, err := New(cfg)
	if err != nil {
		tc.t.Fatalf("start %s: %v", cfg.ID, err)
	}
	tc.nodes[i] = n
	// A restart reuses the same client address.
	tc.cfgs[i].Listen = n.ClientAddr()
}

// stop shuts node i down gracefully.
func (tc *testCluster) stop(i int) {
	if err := tc.nodes[i].Close(); err != nil {
		tc.t.Errorf("close %s: %v", tc.cfgs[i].ID, err)
	}
	tc.nodes[i] = nil
}

// restart starts a stopped node on its old addresses and data.
func (tc *testCluster) restart(i int) {
	ln, err := net.Listen("tcp", tc.cfgs[i].Raft)
	if err != nil {
		tc.t.Fatalf("re-listen %s: %v", tc.cfgs[i].Raft, err)
	}
	tc.startWith(i, ln)
}

func (tc *testCluster) closeAll() {
	for i, n := range tc.nodes {
		if n != nil {
			n.Close()
			tc.nodes[i] = nil
		}
	}
}

// waitForLeader waits until exactly one running node leads and is ready, and
// returns its index.
func (tc *testCluster) waitForLeader() int {
	tc.t.Helper()
	leader := -1
	testutil.WaitFor(tc.t, 15*time.Second, "a ready leader", func() bool {
		leader = -1
		for i, n := range tc.nodes {
			if n != nil && n.replica.LeaderReady() {
				if leader >= 0 {
					return false
				}
				leader = i
			}
		}
		return leader >= 0
	})
	return leader
}

func (tc *testCluster) followers() []int {
	var out []int
	for i, n := range tc.nodes {
		if n != nil && !n.IsLeader() {
			out = append(out, i)
		}
	}
	return out
}

func (tc *testCluster) addr(i int) string { return tc.nodes[i].ClientAddr() }

// waitConverged waits until every running node has applied the same index
// and holds the same seat map.
func (tc *testCluster) waitConverged() {
	tc.t.Helper()
	testutil.WaitFor(tc.t, 15*time.Second, "replicas to converge", func() bool {
		var ref string
		for _, n := range tc.nodes {
			if n == nil {
				continue
			}
			s := seatMap(n) + n.FSM().Digest()
			if ref == "" {
				ref = s
			} else if s != ref {
				return false
			}
		}
		return true
	})
}

// seatMap renders a node's local seat map of the default event, followed
// by the digest of its whole state (events, holds, history, ids).
func seatMap(n *Node) string {
	var b strings.Builder
	total := n.FSM().DefaultSeats()
	for s := uint32(1); s <= total; s++ {
		if info, _ := n.FSM().Seat("", s); info.State != fsm.SeatFree {
			fmt.Fprintf(&b, "%d=%s;", s, info.Holder+"!")
		}
	}
	return fmt.Sprintf("%d:%s", total, b.String())
}

func TestWriteThroughFollowerIsReplicated(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	f := tc.followers()[0]
	c := tc.line(t, f)
	if got := c.Do(t, "RESERVE 3 alice"); got != "SUCCESS" {
		t.Fatalf("RESERVE through follower = %q", got)
	}
	for i := range tc.nodes {
		if got := tc.line(t, i).Do(t, "STATUS 3"); got != "BOOKED alice" {
			t.Errorf("node %d: STATUS 3 = %q, want BOOKED alice", i, got)
		}
	}
	tc.waitConverged()
	if got := seatMap(tc.nodes[0]); got != "5:3=alice!;" {
		t.Errorf("replica state = %q", got)
	}
}

func TestProtocolAnswersOnEveryNode(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	tc.onEveryNode(t, func(t *testing.T, i, leader int) {
		seat := i + 1
		c := tc.line(t, i)
		steps := []struct{ req, want string }{
			{fmt.Sprintf("STATUS %d", seat), "FREE"},
			{fmt.Sprintf("reserve %d", seat), "SUCCESS"},
			{fmt.Sprintf("STATUS %d", seat), "BOOKED"},
			{fmt.Sprintf("RESERVE %d", seat), "FAILED_ALREADY_BOOKED"},
			{fmt.Sprintf("RESERVE %d bob", seat), "FAILED_ALREADY_BOOKED"},
			{fmt.Sprintf("CANCEL %d bob", seat), "FAILED_NOT_HOLDER"},
			{fmt.Sprintf("CANCEL %d", seat), "SUCCESS"},
			{fmt.Sprintf("CANCEL %d", seat), "FAILED_NOT_BOOKED"},
			{fmt.Sprintf("RESERVE\t%d  bob", seat), "SUCCESS"},
			{fmt.Sprintf("RESERVE %d bob", seat), "SUCCESS"},
			{fmt.Sprintf("STATUS %d", seat), "BOOKED bob"},
			{fmt.Sprintf("CANCEL %d bob\r", seat), "SUCCESS"},
			{"RESERVE 6", "FAILED_INVALID_SEAT"},
			{"RESERVE 0 id=z" + fmt.Sprint(i), "FAILED_INVALID_SEAT"},
			{"CANCEL abc", "FAILED_INVALID_SEAT"},
			{"STATUS -1", "FAILED_INVALID_SEAT"},
			{"STATUS 1.5", "FAILED_INVALID_SEAT"},
			{"RESERVE", "INVALID_COMMAND"},
			{"RESERVE 1 bad$holder", "INVALID_COMMAND"},
			{"RESERVE 1 alice id=", "INVALID_COMMAND"},
			{"STATUS 1 2", "INVALID_COMMAND"},
			{"LEADER now", "INVALID_COMMAND"},
			{"BOOK 1", "INVALID_COMMAND"},
			{"LEADER", "LEADER " + tc.cfgs[leader].ID},
		}
		for _, s := range steps {
			if got := c.Do(t, s.req); got != s.want {
				t.Errorf("%q = %q, want %q", s.req, got, s.want)
			}
		}
	})
	got := tc.line(t, 0).Do(t, "STATUS")
	if got != "SEATS 5 FREE 5 BOOKED 0" {
		t.Errorf("STATUS = %q", got)
	}
}

func TestPipelinedRequestsTakeEffectInOrder(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	for _, i := range []int{tc.waitForLeader(), tc.followers()[0]} {
		c := tc.line(t, i)
		// Blank lines get no answer; everything else is answered in order.
		c.Send(t, "RESERVE 1 alice\n\n  \t \nSTATUS 1\nCANCEL 1 alice\nSTATUS 1\nRESERVE 1 bob\nRESERVE 1 carol\nSTATUS 1\nCANCEL 1 bob\nSTATUS\n")
		want := []string{"SUCCESS", "BOOKED alice", "SUCCESS", "FREE", "SUCCESS", "FAILED_ALREADY_BOOKED", "BOOKED bob", "SUCCESS", "SEATS 5 FREE 5 BOOKED 0"}
		for k, w := range want {
			got, err := c.ReadLine(10 * time.Second)
			if err != nil || got != w {
				t.Fatalf("node %d answer %d = %q (%v), want %q", i, k, got, err, w)
			}
		}
	}
}

func TestExactlyOnceID(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	f := tc.followers()
	a := tc.line(t, f[0])
	b := tc.line(t, f[1])
	if got := a.Do(t, "RESERVE 2 alice id=op-1"); got != "SUCCESS" {
		t.Fatalf("first RESERVE = %q", got)
	}
	if got := a.Do(t, "CANCEL 2 alice"); got != "SUCCESS" {
		t.Fatalf("CANCEL = %q", got)
	}
	// The retry answers the recorded result and books nothing.
	if got := b.Do(t, "RESERVE 2 alice id=op-1"); got != "SUCCESS" {
		t.Fatalf("retried RESERVE = %q, want the recorded SUCCESS", got)
	}
	if got := b.Do(t, "STATUS 2"); got != "FREE" {
		t.Fatalf("after retry STATUS 2 = %q, want FREE (applied twice?)", got)
	}
	// A recorded failure is answered again too, even for another seat.
	a.Do(t, "RESERVE 3 bob")
	if got := a.Do(t, "RESERVE 3 carol id=op-2"); got != "FAILED_ALREADY_BOOKED" {
		t.Fatalf("RESERVE 3 carol = %q", got)
	}
	if got := b.Do(t, "RESERVE 4 carol id=op-2"); got != "FAILED_ALREADY_BOOKED" {
		t.Fatalf("reused id = %q, want recorded FAILED_ALREADY_BOOKED", got)
	}
	if got := b.Do(t, "STATUS 4"); got != "FREE" {
		t.Fatalf("STATUS 4 = %q", got)
	}
}

func TestConcurrentReservesOfOneSeatOneWinner(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	const clients = 100
	answers := make([]string, clients)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := tc.line(t, i%3)
			<-start
			// As a real client does: an ERROR (say, a leader change
			// under this load) leaves the outcome open, so the same
			// line, same id, is sent again until it has an answer.
			line := fmt.Sprintf("RESERVE 1 h%d id=race-%d\n", i, i)
			deadline := time.Now().Add(30 * time.Second)
			for {
				c.Send(t, line)
				answers[i], _ = c.ReadLine(20 * time.Second)
				if !strings.HasPrefix(answers[i], "ERROR") || time.Now().After(deadline) {
					return
				}
			}
		}(i)
	}
	close(start)
	wg.Wait()
	winners := 0
	var winner string
	for i, a := range answers {
		switch a {
		case "SUCCESS":
			winners++
			winner = fmt.Sprintf("h%d", i)
		case "FAILED_ALREADY_BOOKED":
		default:
			t.Errorf("client %d got %q", i, a)
		}
	}
	if winners != 1 {
		t.Fatalf("%d clients won seat 1, want exactly 1", winners)
	}
	for i := range tc.nodes {
		if got := tc.line(t, i).Do(t, "STATUS 1"); got != "BOOKED "+winner {
			t.Errorf("node %d: STATUS 1 = %q, want BOOKED %s", i, got, winner)
		}
	}
}

func TestLeaderStopsNewLeaderKeepsEveryBooking(t *testing.T) {
	tc := newTestCluster(t, 3, 50, nil)
	leader := tc.waitForLeader()
	c := tc.line(t, tc.followers()[0])
	for s := 1; s <= 20; s++ {
		if got := c.Do(t, fmt.Sprintf("RESERVE %d u%d", s, s)); got != "SUCCESS" {
			t.Fatalf("RESERVE %d = %q", s, got)
		}
	}
	tc.stop(leader)
	newLeader := tc.waitForLeader()
	if newLeader == leader {
		t.Fatal("stopped node still leads")
	}
	for _, i := range []int{newLeader, tc.followers()[0]} {
		c := tc.line(t, i)
		for s := 1; s <= 20; s++ {
			if got := c.Do(t, fmt.Sprintf("STATUS %d", s)); got != fmt.Sprintf("BOOKED u%d", s) {
				t.Errorf("node %d: STATUS %d = %q after failover", i, s, got)
			}
		}
		if got := c.Do(t, fmt.Sprintf("RESERVE %d late", 30+i)); got != "SUCCESS" {
			t.Errorf("RESERVE on survivor = %q", got)
		}
	}
	tc.restart(leader)
	tc.waitConverged()
}

func TestNoLeaderAnswersErrorWithinLeaderWait(t *testing.T) {
	tc := newTestCluster(t, 3, 5, func(c *Config) { c.LeaderWait = 500 * time.Millisecond })
	f := tc.followers()
	survivor := f[0]
	for i := range tc.nodes {
		if i != survivor {
			tc.stop(i)
		}
	}
	begin := time.Now()
	got := tc.line(t, survivor).Do(t, "RESERVE 1 id=nl-1")
	if got != "ERROR NO_LEADER" && !strings.HasPrefix(got, "ERROR TIMEOUT") {
		t.Fatalf("RESERVE without quorum = %q, want an ERROR", got)
	}
	if got := tc.line(t, survivor).Do(t, "STATUS 1"); !strings.HasPrefix(got, "ERROR ") {
		t.Fatalf("STATUS without quorum = %q, want an ERROR (no stale read)", got)
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Fatalf("answers took %s", d)
	}
}

func TestRestartedFollowerCatchesUpFromSnapshot(t *testing.T) {
	tc := newTestCluster(t, 3, 200, func(c *Config) {
		c.SnapshotThreshold = 20
		c.SnapshotInterval = 50 * time.Millisecond
		c.TrailingLogs = 5
	})
	leader := tc.waitForLeader()
	f := tc.followers()[0]
	tc.stop(f)
	c := tc.line(t, leader)
	for s := 1; s <= 120; s++ {
		if got := c.Do(t, fmt.Sprintf("RESERVE %d u%d id=snap-%d", s, s, s)); got != "SUCCESS" {
			t.Fatalf("RESERVE %d = %q", s, got)
		}
	}
	if err := tc.nodes[leader].Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	tc.restart(f)
	tc.waitConverged()
	// The ids came across in the snapshot: a retry is answered, not applied.
	c.Do(t, "CANCEL 7 u7")
	if got := tc.line(t, f).Do(t, "RESERVE 7 u7 id=snap-7"); got != "SUCCESS" {
		t.Fatalf("retry = %q", got)
	}
	tc.waitConverged()
	if r, ok := tc.nodes[f].FSM().AppliedID("snap-100"); !ok || r.Code != fsm.CodeSuccess {
		t.Fatalf("restarted follower lacks id snap-100: %v %v", r, ok)
	}
	if info, _ := tc.nodes[f].FSM().Seat("", 7); info.State != fsm.SeatFree {
		t.Fatal("retried id re-booked seat 7")
	}
}

func TestFiveNodesSurviveTwoDeaths(t *testing.T) {
	tc := newTestCluster(t, 5, 20, nil)
	leader := tc.waitForLeader()
	c := tc.line(t, leader)
	for s := 1; s <= 5; s++ {
		c.Do(t, fmt.Sprintf("RESERVE %d a%d", s, s))
	}
	tc.stop(leader)
	tc.stop(tc.followers()[0])
	tc.waitForLeader()
	for _, i := range tc.followers() {
		c := tc.line(t, i)
		for s := 1; s <= 5; s++ {
			if got := c.Do(t, fmt.Sprintf("STATUS %d", s)); got != fmt.Sprintf("BOOKED a%d", s) {
				t.Errorf("node %d STATUS %d = %q", i, s, got)
			}
		}
		if got := c.Do(t, fmt.Sprintf("RESERVE %d b", 10+i)); got != "SUCCESS" {
			t.Errorf("RESERVE after two deaths = %q", got)
		}
	}
}

func TestLineTooLongClosesConnection(t *testing.T) {
	tc := newTestCluster(t, 1, 5, nil)
	c := tc.line(t, 0)
	c.Send(t, "STATUS 1\n"+"RESERVE 1 "+strings.Repeat("a", 4090)+"\nSTATUS 2\n")
	for _, want := range []string{"FREE", "ERROR LINE_TOO_LONG"} {
		if got, err := c.ReadLine(5 * time.Second); got != want {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	}
	if got, err := c.ReadLine(5 * time.Second); err == nil {
		t.Fatalf("connection still open after LINE_TOO_LONG; got %q", got)
	}
	// A line of exactly 4096 bytes is a request.
	c2 := tc.line(t, 0)
	line := "STATUS " + strings.Repeat("0", 4096-len("STATUS ")-1) + "1"
	if got := c2.Do(t, line); got != "FREE" {
		t.Fatalf("4096-byte line = %q", got)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	tc := newTestCluster(t, 1, 5, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	c := tc.line(t, 0)
	if got := c.Do(t, "STATUS 1"); got != "FREE" {
		t.Fatalf("STATUS 1 = %q", got)
	}
	if _, err := c.ReadLine(5 * time.Second); err == nil {
		t.Fatal("idle connection was not closed")
	}
}

func TestRestartResumesWithoutBootstrap(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	c := tc.line(t, 0)
	c.Do(t, "RESERVE 4 dora")
	tc.closeAll()
	for i := range tc.cfgs {
		tc.cfgs[i].Seats = 9 // ignored: the cluster exists
		tc.restart(i)
	}
	tc.waitForLeader()
	c = tc.line(t, 1)
	if got := c.Do(t, "STATUS"); got != "SEATS 5 FREE 4 BOOKED 1" {
		t.Fatalf("after full restart STATUS = %q", got)
	}
	if got := c.Do(t, "STATUS 4"); got != "BOOKED dora" {
		t.Fatalf("after full restart STATUS 4 = %q", got)
	}
}

// The default log store (raft-wal in a new data directory) keeps what it
// acknowledged across a full restart, and a data directory keeps the kind
// it was created with: naming the other kind is a configuration error.
func TestDefaultLogStoreSurvivesRestart(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	c := tc.line(t, tc.followers()[0])
	if got := c.Do(t, "RESERVE 2 wal id=w-1"); got != "SUCCESS" {
		t.Fatalf("RESERVE with the wal store = %q", got)
	}
	tc.closeAll()
	for i := range tc.cfgs {
		tc.restart(i)
	}
	tc.waitForLeader()
	if got := tc.line(t, 0).Do(t, "STATUS 2"); got != "BOOKED wal" {
		t.Fatalf("after restart STATUS 2 = %q", got)
	}
	if kind, err := replica.DetectLogStore(tc.cfgs[0].DataDir); kind != replica.LogStoreWAL || err != nil {
		t.Fatalf("a new data directory holds %q (%v), want wal", kind, err)
	}
	cfg := tc.cfgs[0]
	tc.stop(0)
	cfg.LogStore = replica.LogStoreBolt
	cfg.RaftListener, cfg.ClientListener = nil, nil
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = nil
	if _, err := New(cfg); err == nil || !errors.Is(err, ErrConfig) {
		t.Fatalf("opening a wal data dir with --log-store boltdb: err = %v, want ErrConfig", err)
	}
}

// onEveryNode runs fn as a subtest once per node, named after the node's
// index and role; fn also gets the index of the node that led when the test
// started.
func (tc *testCluster) onEveryNode(t *testing.T, fn func(t *testing.T, i, leader int)) {
	t.Helper()
	leader := tc.waitForLeader()
	for i := range tc.nodes {
		role := "follower"
		if i == leader {
			role = "leader"
		}
		t.Run(role+fmt.Sprint(i), func(t *testing.T) { fn(t, i, leader) })
	}
}
