//go:build unix

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seatd/seatd/internal/testutil"
)

// seatdBin is the seatd binary built once by TestMain.
var seatdBin string

// testTimings are the Raft and request timings every test node runs with:
// short enough for quick failovers, still safe on two loaded cores.
var testTimings = []string{
	"--heartbeat-timeout", "400ms",
	"--election-timeout", "400ms",
	"--leader-lease-timeout", "300ms",
	"--leader-wait", "4s",
	"--request-timeout", "8s",
}

// Deadlines used by the harness.
const (
	readyTimeout  = 20 * time.Second // a started node answers LEADER with a live leader
	exitTimeout   = 20 * time.Second // a signalled process is gone (SIGTERM may drain for request-timeout+1s)
	answerTimeout = 15 * time.Second // one request's answer (the node's own bound is request-timeout, 8s)
)

// procNode is one seatd node: its identity and addresses never change, its
// process comes and goes.
type procNode struct {
	id      string
	listen  string // client address
	raft    string // node-to-node address
	data    string
	logPath string
	run     *procRun // nil before the first start
}

// procRun is one process of a node.
type procRun struct {
	cmd       *exec.Cmd
	exited    chan struct{} // closed once the process has been waited for
	state     *os.ProcessState
	signalled bool // the test sent it a signal: its end was asked for
}

// ended describes how a process ended that the test did not stop.
func (r *procRun) ended() string {
	if r.state.ExitCode() == 0 {
		return fmt.Sprintf("%v (exit 0 without a signal from the test: someone else sent it SIGTERM or SIGINT?)", r.state)
	}
	return r.state.String()
}

func (r *procRun) alive() bool {
	if r == nil {
		return false
	}
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// procOptions shapes a procCluster.
type procOptions struct {
	nodes   int
	seats   int      // 0: seatd's default
	noPeers bool     // start without --peers (a one-node cluster)
	extra   []string // more flags for every node
}

// procCluster is a cluster of real seatd processes on 127.0.0.1. Only the
// test goroutine may call its methods; node addresses (addr) may be read by
// any goroutine.
type procCluster struct {
	t     *testing.T
	opts  procOptions
	nodes []*procNode
	peers string
}

// newProcCluster starts a cluster and waits until every node answers LEADER
// with a live leader. Every process is killed when the test ends, and the
// tails of all node logs are printed if it failed.
func newProcCluster(t *testing.T, opts procOptions) *procCluster {
	t.Helper()
	pc := &procCluster{t: t, opts: opts}
	ports := freePorts(t, 2*opts.nodes)
	dir := t.TempDir()
	var peers []string
	for i := 0; i < opts.nodes; i++ {
		n := &procNode{
			id:      fmt.Sprintf("n%d", i+1),
			listen:  fmt.Sprintf("127.0.0.1:%d", ports[2*i]),
			raft:    fmt.Sprintf("127.0.0.1:%d", ports[2*i+1]),
			data:    filepath.Join(dir, fmt.Sprintf("n%d", i+1), "data"),
			logPath: filepath.Join(dir, fmt.Sprintf("n%d.log", i+1)),
		}
		pc.nodes = append(pc.nodes, n)
		peers = append(peers, n.id+"="+n.raft)
	}
	pc.peers = strings.Join(peers, ",")
	t.Cleanup(pc.cleanup)
	for i := range pc.nodes {
		pc.start(i)
	}
	pc.waitAllReady()
	return pc
}

// args is node i's command line.
func (pc *procCluster) args(i int) []string {
	n := pc.nodes[i]
	args := []string{"--id", n.id, "--listen", n.listen, "--raft", n.raft, "--data", n.data}
	if !pc.opts.noPeers {
		args = append(args, "--peers", pc.peers)
	}
	if pc.opts.seats > 0 {
		args = append(args, "--seats", strconv.Itoa(pc.opts.seats))
	}
	args = append(args, pc.opts.extra...)
	return append(args, testTimings...)
}

func (pc *procCluster) addr(i int) string { return pc.nodes[i].listen }

func (pc *procCluster) alive(i int) bool { return pc.nodes[i].run.alive() }

// live returns the indexes of the running nodes.
func (pc *procCluster) live() []int {
	var out []int
	for i := range pc.nodes {
		if pc.alive(i) {
			out = append(out, i)
		}
	}
	return out
}

// start starts node i's process (same data directory and ports every time);
// its output is appended to the node's log file.
func (pc *procCluster) start(i int) {
	pc.t.Helper()
	n := pc.nodes[i]
	if n.run.alive() {
		pc.t.Fatalf("start %s: already running", n.id)
	}
	args := pc.args(i)
	log, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		pc.t.Fatalf("open log of %s: %v", n.id, err)
	}
	fmt.Fprintf(log, "=== %s test: start seatd %s\n", stamp(), strings.Join(args, " "))
	cmd := exec.Command(seatdBin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		pc.t.Fatalf("start %s: %v", n.id, err)
	}
	r := &procRun{cmd: cmd, exited: make(chan struct{})}
	n.run = r
	go func() {
		cmd.Wait()
		r.state = cmd.ProcessState
		fmt.Fprintf(log, "=== %s test: process exited: %v\n", stamp(), r.state)
		log.Close()
		close(r.exited)
	}()
}

// signal sends sig to node i's process.
func (pc *procCluster) signal(i int, sig os.Signal) {
	pc.t.Helper()
	n := pc.nodes[i]
	if !n.run.alive() {
		pc.t.Fatalf("signal %s: not running", n.id)
	}
	n.run.signalled = true
	if err := n.run.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		pc.t.Fatalf("signal %v to %s: %v", sig, n.id, err)
	}
}

// waitExit waits until node i's process is gone and returns its state.
func (pc *procCluster) waitExit(i int, timeout time.Duration) (*os.ProcessState, bool) {
	r := pc.nodes[i].run
	select {
	case <-r.exited:
		return r.state, true
	case <-time.After(timeout):
		return nil, false
	}
}

// kill SIGKILLs the given nodes (all signals first, so they die together)
// and waits for them.
func (pc *procCluster) kill(is ...int) {
	pc.t.Helper()
	for _, i := range is {
		pc.signal(i, syscall.SIGKILL)
	}
	for _, i := range is {
		if _, ok := pc.waitExit(i, exitTimeout); !ok {
			pc.t.Fatalf("%s still running %s after SIGKILL", pc.nodes[i].id, exitTimeout)
		}
	}
}

// stop SIGTERMs node i, waits for it and returns its exit code (-1 for death
// by a signal). A node that does not exit within exitTimeout fails the test,
// with the stacks of its goroutines (SIGQUIT) in the test log.
func (pc *procCluster) stop(i int) int {
	pc.t.Helper()
	return pc.stopWithin(i, exitTimeout)
}

// stopWithin is stop with a deadline of its own.
func (pc *procCluster) stopWithin(i int, timeout time.Duration) int {
	pc.t.Helper()
	pc.signal(i, syscall.SIGTERM)
	state, ok := pc.waitExit(i, timeout)
	if !ok {
		pc.t.Errorf("%s still running %s after SIGTERM; its goroutines:\n%s", pc.nodes[i].id, timeout, pc.dumpGoroutines(i))
		pc.t.FailNow()
	}
	return state.ExitCode()
}

// dumpGoroutines makes node i's Go runtime print every goroutine's stack and
// exit (SIGQUIT), and returns the stacks of seatd's own goroutines.
func (pc *procCluster) dumpGoroutines(i int) string {
	n := pc.nodes[i]
	before, _ := os.ReadFile(n.logPath)
	n.run.cmd.Process.Signal(syscall.SIGQUIT)
	if _, ok := pc.waitExit(i, 10*time.Second); !ok {
		return "(no dump: the process ignored SIGQUIT)"
	}
	after, _ := os.ReadFile(n.logPath)
	if len(after) < len(before) {
		return "(log file shrank)"
	}
	var out []string
	for _, g := range strings.Split(string(after[len(before):]), "\n\n") {
		if strings.Contains(g, "github.com/seatd/seatd/") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// restart starts a stopped node again on its data and ports and waits until
// it is ready.
func (pc *procCluster) restart(i int) {
	pc.t.Helper()
	pc.start(i)
	pc.waitReady(i)
}

// leaderOf asks node i who leads; it returns the leader's index or -1.
func (pc *procCluster) leaderOf(i int) int {
	resp, err := testutil.Request(pc.addr(i), "LEADER", 5*time.Second)
	if err != nil {
		return -1
	}
	f := strings.Fields(resp)
	if len(f) < 2 || f[0] != "LEADER" {
		return -1
	}
	for j, n := range pc.nodes {
		if n.id == f[1] {
			return j
		}
	}
	pc.t.Errorf("node %s names an unknown leader: %q", pc.nodes[i].id, resp)
	return -1
}

// waitReady waits until node i runs and answers LEADER with a live node.
func (pc *procCluster) waitReady(i int) {
	pc.t.Helper()
	n := pc.nodes[i]
	testutil.WaitFor(pc.t, readyTimeout, n.id+" to be ready", func() bool {
		if !n.run.alive() {
			pc.t.Fatalf("%s exited while starting: %s", n.id, n.run.ended())
		}
		l := pc.leaderOf(i)
		return l >= 0 && pc.alive(l)
	})
}

func (pc *procCluster) waitAllReady() {
	pc.t.Helper()
	for _, i := range pc.live() {
		pc.waitReady(i)
	}
}

// leader asks the live nodes in turn until one names a live leader, and
// returns its index.
func (pc *procCluster) leader() int {
	pc.t.Helper()
	leader, k := -1, 0
	testutil.WaitFor(pc.t, readyTimeout, "a live leader", func() bool {
		live := pc.live()
		if len(live) == 0 {
			pc.t.Fatal("no node is running")
		}
		k++
		leader = pc.leaderOf(live[k%len(live)])
		return leader >= 0 && pc.alive(leader)
	})
	return leader
}

// followers returns the live nodes other than leader.
func (pc *procCluster) followers(leader int) []int {
	var out []int
	for _, i := range pc.live() {
		if i != leader {
			out = append(out, i)
		}
	}
	return out
}

// cleanup kills every process, then shows the node logs if the test failed
// and fails it if a node log shows a crash or a data race.
func (pc *procCluster) cleanup() {
	for i, n := range pc.nodes {
		if n.run != nil && !n.run.alive() && !n.run.signalled {
			pc.t.Errorf("%s exited by itself: %s", n.id, n.run.ended())
		}
		if n.run.alive() {
			n.run.cmd.Process.Kill()
			if _, ok := pc.waitExit(i, exitTimeout); !ok {
				pc.t.Errorf("%s (pid %d) survived SIGKILL", n.id, n.run.cmd.Process.Pid)
			}
		}
	}
	for _, n := range pc.nodes {
		b, err := os.ReadFile(n.logPath)
		if err != nil {
			continue
		}
		for _, bad := range []string{"panic:", "fatal error:", "WARNING: DATA RACE"} {
			if bytes.Contains(b, []byte(bad)) {
				pc.t.Errorf("%s's log shows %q", n.id, bad)
			}
		}
	}
	if !pc.t.Failed() {
		return
	}
	for _, n := range pc.nodes {
		pc.t.Logf("---- last lines of %s's log (%s):\n%s", n.id, n.logPath, tail(n.logPath, 80))
	}
}

// tail returns the last lines of a file.
func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.SplitAfter(string(b), "\n")
	if len(all) > lines {
		all = append([]string{fmt.Sprintf("[... %d earlier lines]\n", len(all)-lines)}, all[len(all)-lines:]...)
	}
	return strings.Join(all, "")
}

func stamp() string { return time.Now().Format("15:04:05.000") }

// freePorts returns k distinct ports that were free on 127.0.0.1 a moment
// ago (all listeners are held until every port is chosen).
func freePorts(t *testing.T, k int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for len(ports) < k {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// lineClient is a protocol connection that reports errors instead of
// failing the test, for goroutines other than the test's and for nodes that
// may die at any moment.
type lineClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialClient(addr string) (*lineClient, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &lineClient{conn: c, r: bufio.NewReader(c)}, nil
}

// do sends one request and reads its answer.
func (c *lineClient) do(req string, timeout time.Duration) (string, error) {
	c.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c.conn, req+"\n"); err != nil {
		return "", err
	}
	return c.readLine()
}

func (c *lineClient) readLine() (string, error) {
	s, err := c.r.ReadString('\n')
	if err != nil {
		return s, err
	}
	return strings.TrimSuffix(s, "\n"), nil
}

func (c *lineClient) close() { c.conn.Close() }

// pipeline sends every request on one connection without waiting, then
// reads one answer per request.
func pipeline(addr string, reqs []string, timeout time.Duration) ([]string, error) {
	c, err := dialClient(addr)
	if err != nil {
		return nil, err
	}
	defer c.close()
	c.conn.SetDeadline(time.Now().Add(timeout))
	sent := make(chan error, 1)
	go func() { // write while reading, so neither side's buffers fill up
		w := bufio.NewWriter(c.conn)
		for _, r := range reqs {
			w.WriteString(r)
			w.WriteByte('\n')
		}
		sent <- w.Flush()
	}()
	answers := make([]string, 0, len(reqs))
	for range reqs {
		a, err := c.readLine()
		if err != nil {
			return answers, fmt.Errorf("answer %d of %d: %w", len(answers)+1, len(reqs), err)
		}
		answers = append(answers, a)
	}
	return answers, <-sent
}

// isError reports whether an answer is an ERROR line (outcome unknown for a
// write).
func isError(resp string) bool { return strings.HasPrefix(resp, "ERROR ") }

// doDefinite sends a write (which must carry an id) to the nodes in order,
// starting with the first, retrying the same line on the next node after a
// connection error or an ERROR answer, until an answer that is not ERROR
// comes or deadline passes. It returns the answer, the failed attempts, and
// an error if no definite answer came.
func doDefinite(addrs []string, req string, deadline time.Time) (string, []string, error) {
	var attempts []string
	for k := 0; ; k++ {
		if time.Now().After(deadline) {
			return "", attempts, fmt.Errorf("%q: no definite answer by the deadline; attempts: %v", req, attempts)
		}
		addr := addrs[k%len(addrs)]
		resp, err := testutil.Request(addr, req, answerTimeout)
		switch {
		case err == nil && !isError(resp):
			return resp, attempts, nil
		case err == nil:
			attempts = append(attempts, addr+": "+resp)
		default:
			attempts = append(attempts, addr+": "+err.Error())
		}
	}
}
