package node

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/internal/testutil"
	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/transport"
)

// TestPart3AnswersOnEveryNode walks every part-3 request through the leader
// and through each follower.
func TestPart3AnswersOnEveryNode(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	tc.onEveryNode(t, func(t *testing.T, i, leader int) {
		ev := fmt.Sprintf("gala-%d", i)
		c := tc.line(t, i)
		steps := []struct{ req, want string }{
			{"EVENT CREATE " + ev + " 20", "SUCCESS"},
			{"EVENT CREATE " + ev + " 7", "FAILED_EXISTS"},
			{"event create default 5", "FAILED_EXISTS"},
			{"STATUS event=" + ev, "SEATS 20 FREE 20 BOOKED 0"},
			{"RESERVE 3,4 alice event=" + ev, "SUCCESS"},
			{"RESERVE 4-6 bob event=" + ev, "FAILED_ALREADY_BOOKED 4"},
			{"STATUS 5 event=" + ev, "FREE"},
			{"RESERVE 10-13 bob event=" + ev, "SUCCESS"},
			{"RESERVE 19-21 bob event=" + ev, "FAILED_INVALID_SEAT 21"},
			{"RESERVE 0,1 bob event=" + ev, "FAILED_INVALID_SEAT 0"},
			{"RESERVE 25 bob event=" + ev, "FAILED_INVALID_SEAT"},
			{"CANCEL 3,10 alice event=" + ev, "FAILED_NOT_HOLDER 10"},
			{"CANCEL 3,7 alice event=" + ev, "FAILED_NOT_BOOKED 7"},
			{"CANCEL 3,4 alice event=" + ev, "SUCCESS"},
			{"STATUS event=" + ev, "SEATS 20 FREE 16 BOOKED 4"},
			{"HOLD 1,2 carol event=" + ev + " ttl=600", "HELD *"},
			{"STATUS 1 event=" + ev, "HELD carol *"},
			{"STATUS event=" + ev, "SEATS 20 FREE 14 BOOKED 4 HELD 2"},
			{"HOLD 2,3 dave event=" + ev, "FAILED_ALREADY_BOOKED 2"},
			{"RESERVE 1 dave event=" + ev, "FAILED_ALREADY_BOOKED"},
			{"CANCEL 1 dave event=" + ev, "FAILED_NOT_HOLDER"},
			{"RESERVE 1 carol event=" + ev, "SUCCESS"},
			{"CANCEL 2 carol event=" + ev, "SUCCESS"},
			{"STATUS event=" + ev, "SEATS 20 FREE 15 BOOKED 5 HELD 0"},
			{"HISTORY 1 event=" + ev, "HISTORY 2 HOLD,carol,* CONFIRM,carol,*"},
			{"HISTORY 2 event=" + ev, "HISTORY 2 HOLD,carol,* RELEASE,carol,*"},
			{"HISTORY 9 event=" + ev, "HISTORY 0"},
			{"HISTORY 21 event=" + ev, "FAILED_INVALID_SEAT"},
			{"HOLD 5 erin", "HELD *"},
			{"STATUS", "SEATS 5 FREE * BOOKED * HELD *"},
			{"HOLD 5", "INVALID_COMMAND"},
			{"HOLD 5 erin ttl=0", "INVALID_COMMAND"},
			{"HOLD 5 erin ttl=3601", "INVALID_COMMAND"},
			{"RESERVE 1-101 x event=" + ev, "INVALID_COMMAND"},
			{"RESERVE 1 x event=bad@name", "INVALID_COMMAND"},
			{"EVENT DELETE default", "INVALID_COMMAND"},
			{"EVENT LIST", "EVENTS *" + ev + "*"},
			{"EVENT DELETE " + ev, "SUCCESS"},
			{"EVENT DELETE " + ev, "FAILED_NO_EVENT"},
			{"STATUS 1 event=" + ev, "FAILED_NO_EVENT"},
			{"STATUS event=" + ev, "FAILED_NO_EVENT"},
			{"HISTORY 1 event=" + ev, "FAILED_NO_EVENT"},
			{"RESERVE 1 x event=" + ev, "FAILED_NO_EVENT"},
			{"EVENT CREATE " + ev + " 3", "SUCCESS"},
			{"STATUS event=" + ev, "SEATS 3 FREE 3 BOOKED 0"},
			{"HISTORY 1 event=" + ev, "HISTORY 0"},
		}
		for _, s := range steps {
			if got := c.Do(t, s.req); !matchAnswer(got, s.want) {
				t.Errorf("%q = %q, want %q", s.req, got, s.want)
			}
		}
	})
	names := strings.Fields(tc.line(t, 0).Do(t, "EVENT LIST"))
	want := []string{"EVENTS", "default", "gala-0", "gala-1", "gala-2"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("EVENT LIST = %v, want %v", names, want)
	}
	tc.waitConverged()
}

// matchAnswer compares an answer with a pattern in which * stands for any
// run of characters.
func matchAnswer(got, pattern string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(got, parts[0]) {
		return false
	}
	rest := got[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(rest, p)
		}
		k := strings.Index(rest, p)
		if k < 0 {
			return false
		}
		rest = rest[k+len(p):]
	}
	return rest == ""
}

// TestHoldExpiresOnIdleClusterAtOneLogIndex: a hold made through a
// follower on an otherwise idle cluster reads FREE through every node within
// 2 s of its expiry, and every replica freed it at the same log index and
// log time.
func TestHoldExpiresOnIdleClusterAtOneLogIndex(t *testing.T) {
	tc := newTestCluster(t, 3, 10, nil)
	f := tc.followers()[0]
	held := tc.line(t, f).Do(t, "HOLD 7 zoe ttl=1")
	expires, err := strconv.ParseInt(strings.TrimPrefix(held, "HELD "), 10, 64)
	if err != nil {
		t.Fatalf("HOLD = %q", held)
	}
	conns := make([]*testutil.LineConn, len(tc.nodes))
	for i := range tc.nodes {
		conns[i] = tc.line(t, i)
	}
	deadline := time.UnixMilli(expires).Add(2 * time.Second)
	for i, c := range conns {
		testutil.WaitFor(t, time.Until(deadline), fmt.Sprintf("seat 7 FREE through node %d within 2 s of the hold's end", i), func() bool {
			got := c.Do(t, "STATUS 7")
			if got != "FREE" && !strings.HasPrefix(got, "HELD zoe ") {
				t.Fatalf("node %d: STATUS 7 = %q", i, got)
			}
			return got == "FREE"
		})
	}
	tc.waitConverged()
	var ref fsm.Change
	for i, n := range tc.nodes {
		hist, err := n.FSM().History("", 7)
		if err != nil || len(hist) != 2 || hist[1].Op != fsm.ChangeExpire {
			t.Fatalf("node %d: history %+v (%v), want HOLD then EXPIRE", i, hist, err)
		}
		if hist[1].TimeMs < expires {
			t.Errorf("node %d: expired at log time %d, before the hold's end %d", i, hist[1].TimeMs, expires)
		}
		if i == 0 {
			ref = hist[1]
		} else if hist[1] != ref {
			t.Errorf("node %d expired at %+v, node 0 at %+v", i, hist[1], ref)
		}
	}
}

// TestMultiSeatWritesRaceNeverPartial races four-seat RESERVEs, single-seat
// RESERVEs and HOLDs over the same seats, through every node: each
// four-seat booking took all its seats or none, and the answers agree with
// the final state.
func TestMultiSeatWritesRaceNeverPartial(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	c0 := tc.line(t, 0)
	if got := c0.Do(t, "EVENT CREATE race 400"); got != "SUCCESS" {
		t.Fatalf("EVENT CREATE = %q", got)
	}
	type outcome struct {
		holder string
		seats  []int
		answer string
	}
	var mu sync.Mutex
	var outcomes []outcome
	var wg sync.WaitGroup
	const clients = 12
	conns := make([]*testutil.LineConn, clients)
	for k := range conns {
		conns[k] = tc.line(t, k%len(tc.nodes))
	}
	for k := 0; k < clients; k++ {
		wg.Go(func() {
			c := conns[k]
			rng := rand.New(rand.NewPCG(uint64(k), 7))
			for round := 0; round < 25; round++ {
				base := 1 + 16*(round%25)
				holder := fmt.Sprintf("c%d-r%d", k, round)
				var o outcome
				switch k % 3 {
				case 0: // a block of four
					first := base + rng.IntN(13)
					o = outcome{holder, []int{first, first + 1, first + 2, first + 3}, ""}
					o.answer = ask(c, fmt.Sprintf("RESERVE %d-%d %s event=race id=%s", first, first+3, holder, holder))
				case 1: // one seat
					s := base + rng.IntN(16)
					o = outcome{holder, []int{s}, ""}
					o.answer = ask(c, fmt.Sprintf("RESERVE %d %s event=race", s, holder))
				default: // a hold of two, long enough to outlive the test
					s := base + rng.IntN(15)
					o = outcome{holder, []int{s, s + 1}, ""}
					o.answer = ask(c, fmt.Sprintf("HOLD %d,%d %s ttl=600 event=race", s, s+1, holder))
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	tc.waitConverged()
	n := tc.nodes[tc.waitForLeader()]
	lost := 0
	for _, o := range outcomes {
		owned := 0
		for _, s := range o.seats {
			if info, _ := n.FSM().Seat("race", uint32(s)); info.Holder == o.holder {
				owned++
			}
		}
		won := o.answer == "SUCCESS" || strings.HasPrefix(o.answer, "HELD ")
		switch {
		case won && owned != len(o.seats):
			t.Errorf("%s answered %q for seats %v but holds %d of them", o.holder, o.answer, o.seats, owned)
		case !won && owned != 0:
			t.Errorf("%s answered %q for seats %v yet holds %d of them: a partial write", o.holder, o.answer, o.seats, owned)
		case !won && !strings.HasPrefix(o.answer, "FAILED_ALREADY_BOOKED"):
			t.Errorf("%s: unexpected answer %q", o.holder, o.answer)
		}
		if !won && len(o.seats) > 1 {
			lost++
		}
	}
	t.Logf("%d writes, %d multi-seat writes lost a race", len(outcomes), lost)
	if lost == 0 {
		t.Error("no multi-seat write lost a race: the test raced nothing")
	}
}

// ask sends one request and returns its answer, or a description of the
// failure (for goroutines, which must not stop the test).
func ask(c *testutil.LineConn, req string) string {
	c.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.Conn, req+"\n"); err != nil {
		return "send failed: " + err.Error()
	}
	got, err := c.ReadLine(15 * time.Second)
	if err != nil {
		return "no answer: " + err.Error()
	}
	return got
}

func probeFormats(d *transport.Dialer, addr string) (int, error) {
	return cluster.ProbeFormats(d, addr, time.Second)
}

// clusterBesideOldVoter starts n1 and n2 of this build and, on n3's
// address, a stand-in for an older build: it takes no part in Raft, reads
// the service byte of every node-to-node connection, lets answer reply,
// and hangs up. It returns the cluster, its leader, and upgrade, which
// replaces the stand-in by this build (with no state: it bootstraps the
// same membership and catches up from the leader).
func clusterBesideOldVoter(t *testing.T, answer func(conn net.Conn, service byte)) (tc *testCluster, leader int, upgrade func()) {
	t.Helper()
	dir := t.TempDir()
	lns := make([]net.Listener, 3)
	var peers []Peer
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i+1), Addr: ln.Addr().String()})
	}
	oldDone := make(chan struct{})
	go func() {
		defer close(oldDone)
		for {
			conn, err := lns[2].Accept()
			if err != nil {
				return
			}
			var b [1]byte
			conn.SetDeadline(time.Now().Add(time.Second))
			if n, _ := conn.Read(b[:]); n == 1 {
				answer(conn, b[0])
			}
			conn.Close()
		}
	}()
	tc = &testCluster{t: t, logs: testutil.NewLogSink(t), nodes: make([]*Node, 3)}
	for i := 0; i < 3; i++ {
		cfg := testConfig()
		cfg.ID, cfg.Raft, cfg.Listen = peers[i].ID, peers[i].Addr, "127.0.0.1:0"
		cfg.DataDir, cfg.Peers, cfg.Seats = filepath.Join(dir, cfg.ID), peers, 5
		tc.cfgs = append(tc.cfgs, cfg)
	}
	t.Cleanup(tc.closeAll)
	tc.startWith(0, lns[0])
	tc.startWith(1, lns[1])
	upgrade = func() {
		t.Helper()
		lns[2].Close()
		<-oldDone
		ln, err := net.Listen("tcp", peers[2].Addr)
		if err != nil {
			t.Fatalf("re-listen: %v", err)
		}
		tc.startWith(2, ln)
	}
	return tc, tc.waitForLeader(), upgrade
}

// TestFormatRaisedOnlyWhenEveryVoterCan: while one voter answers like a
// build from before log format 2 (its node-to-node port closes every
// connection of an unknown service), the cluster stays on format 1 and
// part-3 writes are refused with ERROR BUSY while part 1 works; once that
// voter runs this build, the leader raises the format and part 3 works.
func TestFormatRaisedOnlyWhenEveryVoterCan(t *testing.T) {
	// n3 reads the service byte and hangs up, as the previous build's mux
	// does for a service it does not know.
	tc, leader, upgrade := clusterBesideOldVoter(t, func(net.Conn, byte) {})
	c := tc.line(t, leader)
	if got := c.Do(t, "RESERVE 1 alice"); got != "SUCCESS" {
		t.Fatalf("part-1 RESERVE on a format-1 cluster = %q", got)
	}
	for _, req := range []string{"EVENT CREATE gala 10", "HOLD 2 bob", "RESERVE 3,4 bob"} {
		if got := c.Do(t, req); !strings.HasPrefix(got, "ERROR BUSY") {
			t.Errorf("%q on a format-1 cluster = %q, want ERROR BUSY", req, got)
		}
	}
	if f := tc.nodes[leader].FSM().Format(); f != fsm.FormatV1 {
		t.Fatalf("format %d while a voter cannot apply format 2", f)
	}
	upgrade()
	testutil.WaitFor(t, 15*time.Second, "the format raised to this build's newest", func() bool {
		return tc.nodes[leader].FSM().Format() == fsm.MaxFormat
	})
	if got := c.Do(t, "EVENT CREATE gala 10"); got != "SUCCESS" {
		t.Errorf("EVENT CREATE after the upgrade = %q", got)
	}
	if got := c.Do(t, "STATUS 1"); got != "BOOKED alice" {
		t.Errorf("STATUS 1 after the upgrade = %q", got)
	}
	tc.waitConverged()
}

// TestFormatRaisedAsFarAsEveryVoterCan: while one voter is a build that
// applies formats up to 2 (it answers the formats service so), the leader
// raises a new cluster to format 2, not to this build's 3: part 3 works, ids
// keep format 2's retention, and the raise waits, round after round, until
// that voter runs this build; then the cluster goes to 3.
func TestFormatRaisedAsFarAsEveryVoterCan(t *testing.T) {
	tc, leader, upgrade := clusterBesideOldVoter(t, func(conn net.Conn, service byte) {
		if service == transport.HeaderFormats {
			io.WriteString(conn, "FORMATS 1 2\n")
		}
	})
	testutil.WaitFor(t, 15*time.Second, "the format raised to 2", func() bool {
		return tc.nodes[leader].FSM().Format() == fsm.FormatV2
	})
	c := tc.line(t, leader)
	if got := c.Do(t, "EVENT CREATE gala 10"); got != "SUCCESS" {
		t.Errorf("EVENT CREATE at format 2 = %q", got)
	}
	// Two more rounds of the raise see the format-2 voter and leave the
	// cluster at 2.
	const waits = "its_newest_format=2"
	seen := tc.logs.Count(waits)
	testutil.WaitFor(t, 15*time.Second, "two more raise rounds", func() bool { return tc.logs.Count(waits) >= seen+2 })
	if f := tc.nodes[leader].FSM().Format(); f != fsm.FormatV2 {
		t.Fatalf("format %d while a voter applies only up to 2", f)
	}

	upgrade()
	testutil.WaitFor(t, 15*time.Second, "the format raised to 3", func() bool {
		return tc.nodes[leader].FSM().Format() == fsm.FormatV3
	})
	if got := c.Do(t, "STATUS event=gala"); got != "SEATS 10 FREE 10 BOOKED 0" {
		t.Errorf("STATUS event=gala after the raise to 3 = %q", got)
	}
	tc.waitConverged()
}

// TestProbeFormats: this build's formats service says it applies formats 1
// to fsm.MaxFormat; a node whose port hangs up at once is a format-1 build; a port that
// cannot be reached is no answer at all.
func TestProbeFormats(t *testing.T) {
	tc := newTestCluster(t, 1, 5, nil)
	d := &transport.Dialer{}
	if got, err := probeFormats(d, tc.cfgs[0].Raft); err != nil || got != fsm.MaxFormat {
		t.Errorf("probe of this build = %d, %v; want %d", got, err, fsm.MaxFormat)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			io.ReadFull(conn, make([]byte, 1))
			conn.Close()
		}
	}()
	if got, err := probeFormats(d, ln.Addr().String()); err != nil || got != fsm.FormatV1 {
		t.Errorf("probe of an old build = %d, %v; want 1", got, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := probeFormats(d, addr); err == nil {
		t.Error("probe of a closed port gave an answer")
	}
}

// TestOldFormatDataResumes starts this build on the three data directories
// that the previous build wrote (node/testdata/v1-cluster.tar.gz, see
// fsm/testdata/v1/README.md): a format-1 snapshot and log entries after it.
// Every node must resume to the same state, answer what the old cluster
// answered, replay every recorded id with its recorded answer, raise the
// format, and then serve part 3.
func TestOldFormatDataResumes(t *testing.T) {
	dir := t.TempDir()
	untar(t, "testdata/v1-cluster.tar.gz", dir)
	tc := &testCluster{t: t, logs: testutil.NewLogSink(t), nodes: make([]*Node, 3)}
	for i := 0; i < 3; i++ {
		cfg := testConfig()
		cfg.ID = fmt.Sprintf("n%d", i+1)
		cfg.Raft = fmt.Sprintf("127.0.0.1:%d", 29301+i) // the addresses in the old configuration
		cfg.Listen = "127.0.0.1:0"
		cfg.DataDir = filepath.Join(dir, cfg.ID)
		cfg.Seats = 20
		tc.cfgs = append(tc.cfgs, cfg)
	}
	t.Cleanup(tc.closeAll)
	for i := range tc.cfgs {
		ln, err := net.Listen("tcp", tc.cfgs[i].Raft)
		if err != nil {
			t.Skipf("the fixture's raft address %s is taken: %v", tc.cfgs[i].Raft, err)
		}
		tc.startWith(i, ln)
	}
	leader := tc.waitForLeader()
	final := readFixture(t, "../fsm/testdata/v1/final.txt")
	answers := readFixture(t, "../fsm/testdata/v1/answers.txt")
	for i := range tc.nodes {
		c := tc.line(t, i)
		for _, f := range final {
			if got := c.Do(t, f[0]); got != f[1] {
				t.Errorf("node %d: %q = %q, the old build answered %q", i, f[0], got, f[1])
			}
		}
	}
	c := tc.line(t, leader)
	for _, a := range answers {
		if got := c.Do(t, a[0]); got != a[1] {
			t.Errorf("re-sent %q = %q, first answered %q", a[0], got, a[1])
		}
	}
	testutil.WaitFor(t, 15*time.Second, "the format raised to this build's newest", func() bool {
		return tc.nodes[leader].FSM().Format() == fsm.MaxFormat
	})
	for _, s := range [][2]string{
		{"STATUS", "SEATS 20 FREE 4 BOOKED 16"},
		{"HOLD 14 amy", "HELD *"},
		{"STATUS", "SEATS 20 FREE 3 BOOKED 16 HELD 1"},
		{"RESERVE 13,14 bo", "FAILED_ALREADY_BOOKED 14"},
		{"EVENT CREATE after 3", "SUCCESS"},
	} {
		if got := c.Do(t, s[0]); !matchAnswer(got, s[1]) {
			t.Errorf("%q = %q, want %q", s[0], got, s[1])
		}
	}
	tc.waitConverged()
}

// readFixture reads "request => answer" lines.
func readFixture(t *testing.T, path string) [][2]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		req, ans, ok := strings.Cut(line, " => ")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		out = append(out, [2]string{req, ans})
	}
	return out
}

// untar unpacks a .tar.gz into dir.
func untar(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.Clean(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				t.Fatal(err)
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
		}
	}
}

// TestLongAnswerThroughAFollower: EVENT LIST of many events is an answer far
// longer than a request may be; it travels over the forwarding link and the
// link keeps serving the requests behind it.
func TestLongAnswerThroughAFollower(t *testing.T) {
	tc := newTestCluster(t, 3, 5, nil)
	c := tc.line(t, tc.waitForLeader())
	var creates strings.Builder
	const events = 500
	for i := range events {
		fmt.Fprintf(&creates, "EVENT CREATE a-rather-long-event-name-number-%04d 10\n", i)
	}
	c.Send(t, creates.String())
	for i := range events {
		if got, err := c.ReadLine(15 * time.Second); err != nil || got != "SUCCESS" {
			t.Fatalf("create %d: %q %v", i, got, err)
		}
	}
	f := tc.line(t, tc.followers()[0])
	f.Send(t, "EVENT LIST\nRESERVE 1 alice\nEVENT LIST\n")
	for k, want := range []string{"EVENTS ", "SUCCESS", "EVENTS "} {
		got, err := f.ReadLine(15 * time.Second)
		if err != nil || !strings.HasPrefix(got, want) {
			t.Fatalf("answer %d = %.40q… (%d bytes), %v; want %s…", k, got, len(got), err, want)
		}
		if want == "EVENTS " && len(strings.Fields(got)) != events+2 {
			t.Fatalf("EVENT LIST names %d events, want %d", len(strings.Fields(got))-1, events+1)
		}
		if want == "EVENTS " && len(got) <= protocol.MaxLine {
			t.Fatalf("the answer is only %d bytes: the test proves nothing", len(got))
		}
	}
}
