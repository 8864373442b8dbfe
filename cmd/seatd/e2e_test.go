//go:build unix

// End-to-end tests: they build the seatd binary once, run clusters of real
// seatd processes on 127.0.0.1 and kill them with SIGKILL and SIGTERM.
// Set SEATD_E2E_RACE=1 to build seatd with the race detector as well.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/seatd/seatd/internal/testutil"
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "seatd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	seatdBin = filepath.Join(dir, "seatd")
	args := []string{"build", "-o", seatdBin}
	if os.Getenv("SEATD_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...) // the test runs in the package directory
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// statusWant is what STATUS <seat> must answer for seat.
type statusWant struct {
	seat int
	want string
}

// checkStatuses asks every listed node, on one pipelined connection per
// node, for the status of each seat and reports every mismatch (at most a
// few per node, then a count).
func checkStatuses(t *testing.T, pc *procCluster, nodes []int, wants []statusWant) {
	t.Helper()
	reqs := make([]string, len(wants))
	for k, w := range wants {
		reqs[k] = fmt.Sprintf("STATUS %d", w.seat)
	}
	for _, i := range nodes {
		answers, err := pipeline(pc.addr(i), reqs, 30*time.Second)
		if err != nil {
			t.Errorf("%s: STATUS of %d seats: %v", pc.nodes[i].id, len(reqs), err)
			continue
		}
		bad := 0
		for k, w := range wants {
			if answers[k] != w.want {
				if bad < 5 {
					t.Errorf("via %s: STATUS %d = %q, want %q", pc.nodes[i].id, w.seat, answers[k], w.want)
				}
				bad++
			}
		}
		if bad > 5 {
			t.Errorf("via %s: %d of %d seats wrong", pc.nodes[i].id, bad, len(wants))
		}
	}
}

// checkSummary checks the STATUS summary line through every listed node.
func checkSummary(t *testing.T, pc *procCluster, nodes []int, want string) {
	t.Helper()
	for _, i := range nodes {
		got, err := testutil.Request(pc.addr(i), "STATUS", answerTimeout)
		if err != nil || got != want {
			t.Errorf("via %s: STATUS = %q (%v), want %q", pc.nodes[i].id, got, err, want)
		}
	}
}

func summary(total, booked int) string {
	return fmt.Sprintf("SEATS %d FREE %d BOOKED %d", total, total-booked, booked)
}

// TestSIGKILLLeaderLosesNothingAcknowledged kills the leader under a steady
// stream of writes from eight clients: no acknowledged booking may be lost,
// and, since every write is retried with its id until a definite answer,
// the cluster must hold exactly the acknowledged bookings.
func TestSIGKILLLeaderLosesNothingAcknowledged(t *testing.T) {
	const (
		seats   = 2000
		writers = 8
		phase   = 300 // acknowledged writes before, then after, the kill
	)
	pc := newProcCluster(t, procOptions{nodes: 3, seats: seats})
	leader := pc.leader()

	type writerLog struct {
		acked    []int    // seats acknowledged SUCCESS
		problems []string // answers other than SUCCESS, unresolved writes
		retries  int      // ERROR answers and connection errors retried
	}
	logs := make([]writerLog, writers)
	var (
		nextSeat atomic.Int64
		acked    atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	stopWriters := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriters() // also when the test fails early: no writer outlives it

	for k := 0; k < writers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &logs[k]
			node := k % len(pc.nodes)
			var c *lineClient
			defer func() {
				if c != nil {
					c.close()
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				seat := int(nextSeat.Add(1))
				if seat > seats {
					l.problems = append(l.problems, "ran out of seats")
					return
				}
				line := fmt.Sprintf("RESERVE %d w%d id=w%d-s%d", seat, k, k, seat)
				// Retry the same line, same id, on the next node after
				// an ERROR or a broken connection, until a definite answer.
				deadline := time.Now().Add(40 * time.Second)
				var resp string
				for {
					if time.Now().After(deadline) {
						l.problems = append(l.problems, fmt.Sprintf("%q: no definite answer within 40s (last: %q)", line, resp))
						return
					}
					var err error
					if c == nil {
						if c, err = dialClient(pc.addr(node)); err != nil {
							c = nil
							l.retries++
							node = (node + 1) % len(pc.nodes)
							continue
						}
					}
					resp, err = c.do(line, answerTimeout)
					if err != nil {
						var ne net.Error
						if errors.As(err, &ne) && ne.Timeout() {
							l.problems = append(l.problems, fmt.Sprintf("%q: no answer from %s within %s", line, pc.nodes[node].id, answerTimeout))
						}
						resp = err.Error()
					}
					if err == nil && !isError(resp) {
						break
					}
					l.retries++
					c.close()
					c = nil
					node = (node + 1) % len(pc.nodes)
				}
				if resp != "SUCCESS" {
					l.problems = append(l.problems, fmt.Sprintf("%q = %q, want SUCCESS (a fresh seat, retried only with its own id)", line, resp))
					continue
				}
				l.acked = append(l.acked, seat)
				acked.Add(1)
			}
		}()
	}

	testutil.WaitFor(t, 30*time.Second, fmt.Sprintf("%d acknowledged bookings", phase), func() bool {
		return acked.Load() >= phase
	})
	pc.kill(leader)
	atKill := acked.Load()
	t.Logf("SIGKILLed leader %s after %d acknowledged bookings", pc.nodes[leader].id, atKill)
	testutil.WaitFor(t, 40*time.Second, fmt.Sprintf("%d more bookings after the leader died", phase), func() bool {
		return acked.Load() >= atKill+phase
	})
	newLeader := pc.leader()
	stopWriters()

	var wants []statusWant
	retries := 0
	for k := range logs {
		for _, p := range logs[k].problems {
			t.Errorf("writer w%d: %s", k, p)
		}
		retries += logs[k].retries
		for _, s := range logs[k].acked {
			wants = append(wants, statusWant{s, fmt.Sprintf("BOOKED w%d", k)})
		}
	}
	t.Logf("%d bookings acknowledged (%d after the kill), %d retries; new leader %s",
		len(wants), int64(len(wants))-atKill, retries, pc.nodes[newLeader].id)

	pc.restart(leader)
	all := []int{0, 1, 2}
	checkStatuses(t, pc, all, wants)
	checkSummary(t, pc, all, summary(seats, len(wants)))
}

// TestRetryWithSameIDAfterLeaderDeathBooksOnce: a write's id survives the
// death of the leader that applied it; its retry answers the recorded result
// and changes nothing.
func TestRetryWithSameIDAfterLeaderDeathBooksOnce(t *testing.T) {
	pc := newProcCluster(t, procOptions{nodes: 3, seats: 10})
	leader := pc.leader()
	f := pc.followers(leader)
	c := testutil.DialLine(t, pc.addr(f[0]))
	if got := c.Do(t, "RESERVE 7 alice id=r1"); got != "SUCCESS" {
		t.Fatalf("RESERVE 7 alice id=r1 via follower %s = %q", pc.nodes[f[0]].id, got)
	}
	if got := c.Do(t, "CANCEL 7 alice"); got != "SUCCESS" {
		t.Fatalf("CANCEL 7 alice = %q", got)
	}
	pc.kill(leader)

	// The survivor may have to wait for an election; ERROR answers are
	// retried, as a client would, with the same id.
	got, attempts, err := doDefinite([]string{pc.addr(f[1])}, "RESERVE 7 alice id=r1", time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) > 0 {
		t.Logf("retry needed %d more attempts: %v", len(attempts), attempts)
	}
	if got != "SUCCESS" {
		t.Fatalf("retried RESERVE 7 alice id=r1 via %s = %q, want the recorded SUCCESS", pc.nodes[f[1]].id, got)
	}
	for _, i := range f {
		if got := testutil.DialLine(t, pc.addr(i)).Do(t, "STATUS 7"); got != "FREE" {
			t.Errorf("via %s: STATUS 7 = %q, want FREE (the retry must not apply again)", pc.nodes[i].id, got)
		}
	}
	checkSummary(t, pc, f, summary(10, 0))
}

// TestFullClusterSIGKILLAndRestartResumes kills every node at once: on
// restart (same data; --peers is then ignored) the cluster resumes with
// every booking.
func TestFullClusterSIGKILLAndRestartResumes(t *testing.T) {
	const seats, booked = 100, 50
	pc := newProcCluster(t, procOptions{nodes: 3, seats: seats})
	// Book seats 1..50 through all three nodes, pipelined.
	var wants []statusWant
	for i := range pc.nodes {
		var reqs []string
		for s := i + 1; s <= booked; s += len(pc.nodes) {
			reqs = append(reqs, fmt.Sprintf("RESERVE %d h%d", s, s))
		}
		answers, err := pipeline(pc.addr(i), reqs, 30*time.Second)
		if err != nil {
			t.Fatalf("booking via %s: %v", pc.nodes[i].id, err)
		}
		for k, a := range answers {
			if a != "SUCCESS" {
				t.Fatalf("%q via %s = %q", reqs[k], pc.nodes[i].id, a)
			}
		}
	}
	for s := 1; s <= booked; s++ {
		wants = append(wants, statusWant{s, fmt.Sprintf("BOOKED h%d", s)})
	}

	pc.kill(0, 1, 2)
	for i := range pc.nodes {
		pc.start(i)
	}
	pc.waitAllReady()

	all := []int{0, 1, 2}
	checkStatuses(t, pc, all, wants)
	checkSummary(t, pc, all, summary(seats, booked))
	c := testutil.DialLine(t, pc.addr(2))
	if got := c.Do(t, "RESERVE 51 late"); got != "SUCCESS" {
		t.Fatalf("RESERVE 51 after the restart = %q", got)
	}
	checkStatuses(t, pc, all, []statusWant{{51, "BOOKED late"}})
	checkSummary(t, pc, all, summary(seats, booked+1))
}

// TestSIGTERMIsGraceful stops a node with SIGTERM while clients have
// requests in flight on it: the node exits 0 within a few seconds, answers
// every request it took, and the two other nodes carry on.
func TestSIGTERMIsGraceful(t *testing.T) {
	for _, role := range []string{"follower", "leader"} {
		t.Run(role, func(t *testing.T) { testSIGTERMIsGraceful(t, role) })
	}
}

func testSIGTERMIsGraceful(t *testing.T, role string) {
	const (
		seats  = 5000
		burst  = 200  // sent in one write before the signal
		total  = 4000 // at most, sent while the node stops
		window = 100  // unanswered requests at most on a connection
		chatty = 4    // more connections that keep sending reads
	)
	pc := newProcCluster(t, procOptions{nodes: 3, seats: seats})
	leader := pc.leader()
	target := leader
	if role == "follower" {
		target = pc.followers(leader)[0]
	}
	survivors := pc.followers(target)
	reserve := func(seat int) string { return fmt.Sprintf("RESERVE %d term id=t%d", seat, seat) }

	// The booking connection books distinct seats; the chatty ones keep the
	// node's readers busy with reads while it stops.
	booker := startStream(t, pc.addr(target), reserve, burst, total, window)
	var others []*stream
	for k := 0; k < chatty; k++ {
		others = append(others, startStream(t, pc.addr(target), func(int) string { return "STATUS 1" }, 0, 1<<30, window))
	}
	booker.waitAnswers(1) // the node is reading the burst

	begin := time.Now()
	pc.signal(target, syscall.SIGTERM)
	state, exited := pc.waitExit(target, 12*time.Second)
	took := time.Since(begin)
	if !exited {
		t.Errorf("%s (%s) still running %s after SIGTERM; the client connections: booking %s; chatty %s",
			pc.nodes[target].id, role, took.Round(time.Millisecond), booker, others)
		t.Fatalf("%s's goroutines:\n%s", pc.nodes[target].id, pc.dumpGoroutines(target))
	}
	code := state.ExitCode()
	if code != 0 {
		t.Errorf("%s (%s) exited with status %d after SIGTERM, want 0", pc.nodes[target].id, role, code)
	}
	if took > 5*time.Second {
		t.Errorf("%s took %s to exit after SIGTERM, want a few seconds", pc.nodes[target].id, took)
	}
	answers, n, readErr := booker.wait()
	t.Logf("%s %s exited %d in %s; booking connection: %d requests sent, %d answered, then %v",
		role, pc.nodes[target].id, code, took.Round(time.Millisecond), n, len(answers), readErr)

	// Every answer is a protocol answer for its request.
	counts := map[string]int{}
	for k, a := range answers {
		counts[a]++
		if a != "SUCCESS" && !isError(a) {
			t.Errorf("answer to %q = %q, want SUCCESS or an ERROR line", reserve(k+1), a)
		}
	}
	t.Logf("answers: %v", counts)
	if len(answers) < burst {
		t.Errorf("only %d of the %d requests sent before SIGTERM were answered (then %v)", len(answers), burst, readErr)
	}
	if len(answers) > n {
		t.Errorf("%d answers to %d requests", len(answers), n)
	}
	for k, o := range others {
		answers, n, readErr := o.wait()
		for _, a := range answers {
			if a != "FREE" && a != "BOOKED term" && !isError(a) {
				t.Errorf("chatty connection %d: STATUS 1 = %q", k, a)
				break
			}
		}
		if len(answers) > n {
			t.Errorf("chatty connection %d: %d answers to %d requests", k, len(answers), n)
		}
		t.Logf("chatty connection %d: %d sent, %d answered, then %v", k, n, len(answers), readErr)
	}

	// The two others still serve writes, through each of them.
	for _, i := range survivors {
		req := fmt.Sprintf("RESERVE %d after id=after-%s", seats-i, pc.nodes[i].id)
		got, _, err := doDefinite([]string{pc.addr(i)}, req, time.Now().Add(30*time.Second))
		if err != nil || got != "SUCCESS" {
			t.Errorf("%q via %s after the stop = %q (%v), want SUCCESS", req, pc.nodes[i].id, got, err)
		}
	}

	// What the answers said is what happened: SUCCESS is booked,
	// SHUTTING_DOWN and NO_LEADER applied nothing, and a request that got no
	// answer was not applied either (else its answer was lost).
	var wants []statusWant
	for s := 1; s <= n; s++ {
		a := ""
		if s <= len(answers) {
			a = answers[s-1]
		}
		switch {
		case a == "SUCCESS":
			wants = append(wants, statusWant{s, "BOOKED term"})
		case a == "", strings.HasPrefix(a, "ERROR SHUTTING_DOWN"), strings.HasPrefix(a, "ERROR NO_LEADER"):
			wants = append(wants, statusWant{s, "FREE"})
		}
	}
	checkStatuses(t, pc, survivors[:1], wants)
}

// stream is a client connection that sends requests without waiting for
// answers, keeping at most window of them unanswered, and collects the
// answers until the node closes the connection.
type stream struct {
	conn    net.Conn
	mu      sync.Mutex
	cond    *sync.Cond
	sent    int
	answers []string
	readErr error
	done    chan struct{} // both goroutines have returned
}

// startStream connects to addr, sends requests line(1)..line(burst) in one
// write, then keeps sending line(burst+1).. up to line(total) in the
// background.
func startStream(t *testing.T, addr string, line func(int) string, burst, total, window int) *stream {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	s := &stream{conn: conn, done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	if burst > 0 {
		var b strings.Builder
		for k := 1; k <= burst; k++ {
			b.WriteString(line(k) + "\n")
		}
		if _, err := io.WriteString(conn, b.String()); err != nil {
			t.Fatal(err)
		}
		s.sent = burst
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		r := bufio.NewReader(conn)
		for {
			a, err := r.ReadString('\n')
			s.mu.Lock()
			if err != nil {
				s.readErr = err
				if a != "" {
					s.readErr = fmt.Errorf("%w after a partial line %q", err, a)
				}
				s.cond.Broadcast()
				s.mu.Unlock()
				return
			}
			s.answers = append(s.answers, strings.TrimSuffix(a, "\n"))
			s.cond.Broadcast()
			s.mu.Unlock()
		}
	}()
	go func() {
		defer close(s.done)
		defer func() { <-readerDone }()
		for k := burst + 1; k <= total; k++ {
			s.mu.Lock()
			for s.readErr == nil && s.sent-len(s.answers) >= window {
				s.cond.Wait()
			}
			ended := s.readErr != nil
			if !ended {
				s.sent = k // before the write: its answer may come at once
			}
			s.mu.Unlock()
			if ended {
				return
			}
			if _, err := io.WriteString(conn, line(k)+"\n"); err != nil {
				return
			}
		}
	}()
	return s
}

// String describes the connection's progress.
func (s *stream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := "open"
	if s.readErr != nil {
		end = s.readErr.Error()
	}
	return fmt.Sprintf("{%d sent, %d answered, %s}", s.sent, len(s.answers), end)
}

// waitAnswers waits until k answers came or the connection ended.
func (s *stream) waitAnswers(k int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.readErr == nil && len(s.answers) < k {
		s.cond.Wait()
	}
}

// wait waits until the node ended the connection (or its 60s deadline
// passed) and returns the answers, how many requests were sent, and how
// the connection ended.
func (s *stream) wait() ([]string, int, error) {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answers, s.sent, s.readErr
}

// TestFiveNodesTwoSIGKILLs: a five-node cluster loses its leader and a
// follower at once; the other three keep every booking and serve writes
// through each of them.
func TestFiveNodesTwoSIGKILLs(t *testing.T) {
	const seats, booked = 100, 20
	pc := newProcCluster(t, procOptions{nodes: 5, seats: seats})
	var wants []statusWant
	for s := 1; s <= booked; s++ {
		i := s % len(pc.nodes)
		req := fmt.Sprintf("RESERVE %d a%d", s, s)
		if got, err := testutil.Request(pc.addr(i), req, answerTimeout); err != nil || got != "SUCCESS" {
			t.Fatalf("%q via %s = %q (%v)", req, pc.nodes[i].id, got, err)
		}
		wants = append(wants, statusWant{s, fmt.Sprintf("BOOKED a%d", s)})
	}
	leader := pc.leader()
	follower := pc.followers(leader)[0]
	pc.kill(leader, follower)
	newLeader := pc.leader()
	survivors := pc.live()
	t.Logf("killed %s (leader) and %s; %s leads now", pc.nodes[leader].id, pc.nodes[follower].id, pc.nodes[newLeader].id)

	checkStatuses(t, pc, survivors, wants)
	checkSummary(t, pc, survivors, summary(seats, booked))
	for _, i := range survivors {
		seat := 50 + i
		c := testutil.DialLine(t, pc.addr(i))
		if got := c.Do(t, fmt.Sprintf("RESERVE %d b%d", seat, i)); got != "SUCCESS" {
			t.Errorf("RESERVE %d via survivor %s = %q", seat, pc.nodes[i].id, got)
		}
		wants = append(wants, statusWant{seat, fmt.Sprintf("BOOKED b%d", i)})
	}
	checkStatuses(t, pc, survivors, wants)
	checkSummary(t, pc, survivors, summary(seats, booked+len(survivors)))
}

// TestCommandLine checks how seatd treats its flags.
func TestCommandLine(t *testing.T) {
	t.Run("missing required flag", func(t *testing.T) {
		ports := freePorts(t, 2)
		full := map[string]string{
			"id":     "n1",
			"listen": fmt.Sprintf("127.0.0.1:%d", ports[0]),
			"raft":   fmt.Sprintf("127.0.0.1:%d", ports[1]),
			"data":   "", // per case
		}
		for _, missing := range []string{"id", "listen", "raft", "data"} {
			t.Run(missing, func(t *testing.T) {
				data := filepath.Join(t.TempDir(), "data")
				var args []string
				for _, f := range []string{"id", "listen", "raft", "data"} {
					v := full[f]
					if f == "data" {
						v = data
					}
					if f != missing {
						args = append(args, "--"+f, v)
					}
				}
				out, code := runSeatd(t, args...)
				if code == 0 {
					t.Fatalf("seatd %s exited 0, want non-zero; output:\n%s", strings.Join(args, " "), out)
				}
				if !strings.Contains(out, "--"+missing) {
					t.Errorf("seatd without --%s: the message does not name the flag:\n%s", missing, out)
				}
				assertNoRaftState(t, data)
			})
		}
	})

	t.Run("peers without this node", func(t *testing.T) {
		ports := freePorts(t, 4)
		data := filepath.Join(t.TempDir(), "data")
		args := []string{
			"--id", "n1",
			"--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
			"--raft", fmt.Sprintf("127.0.0.1:%d", ports[1]),
			"--data", data,
			"--peers", fmt.Sprintf("n2=127.0.0.1:%d,n3=127.0.0.1:%d", ports[2], ports[3]),
		}
		out, code := runSeatd(t, args...)
		if code == 0 {
			t.Fatalf("seatd with --peers lacking n1 exited 0; output:\n%s", out)
		}
		if !strings.Contains(out, "--peers") || !strings.Contains(out, "n1") {
			t.Errorf("the refusal does not explain itself (want --peers and n1 named):\n%s", out)
		}
		assertNoRaftState(t, data)
	})

	t.Run("a backup that is not one is refused", func(t *testing.T) {
		ports := freePorts(t, 2)
		dir := t.TempDir()
		bad := filepath.Join(dir, "bad.backup")
		if err := os.WriteFile(bad, []byte("SEATD-BACKUP 1 index=1 size=99 sha256=00\nshort"), 0o600); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "data")
		out, code := runSeatd(t, "--id", "n1", "--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
			"--raft", fmt.Sprintf("127.0.0.1:%d", ports[1]), "--data", data, "--restore", bad)
		if code != 2 || !strings.Contains(out, "truncated") {
			t.Errorf("seatd --restore of a truncated backup: exit %d, want 2 with the reason; output:\n%s", code, out)
		}
		assertNoRaftState(t, data)
	})

	t.Run("no peers makes a one-node cluster", func(t *testing.T) {
		pc := newProcCluster(t, procOptions{nodes: 1, noPeers: true})
		c := testutil.DialLine(t, pc.addr(0))
		for _, step := range []struct{ req, want string }{
			{"LEADER", "LEADER n1"},
			{"RESERVE 1", "SUCCESS"},
			{"STATUS 1", "BOOKED"},
			{"STATUS", summary(5, 1)},
		} {
			if got := c.Do(t, step.req); got != step.want {
				t.Errorf("%q = %q, want %q", step.req, got, step.want)
			}
		}
	})
}

// runSeatd runs seatd with args, which must make it exit by itself, and
// returns its combined output and exit code.
func runSeatd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(seatdBin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("seatd %s: %v", strings.Join(args, " "), err)
		}
		return out.String(), cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatalf("seatd %s still running after 10s, want it to refuse to start; output:\n%s", strings.Join(args, " "), out.String())
		return "", 0
	}
}

// assertNoRaftState fails if a refused node left Raft state behind (a later
// start with corrected flags would then resume it instead of bootstrapping).
func assertNoRaftState(t *testing.T, data string) {
	t.Helper()
	entries, err := os.ReadDir(data)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if slices.Contains(names, "raft.db") || slices.Contains(names, "wal") || slices.Contains(names, "snapshots") {
		t.Errorf("a refused start left Raft state in %s: %v", data, names)
	}
}
