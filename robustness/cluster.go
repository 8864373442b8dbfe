package robustness

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Ports every node uses on its own address.
const (
	clientPort = 7000
	raftPort   = 8000
	httpPort   = 9000 // --http: the readiness checks ask /readyz
)

// Cluster is a set of seatd processes, node i running in namespace i of a
// Network. It is safe for concurrent use by the nemesis and the checker.
type Cluster struct {
	Binary string
	Dir    string // data and logs: Dir/n<i>/ and Dir/n<i>.log
	Net    *Network
	N      int
	Seats  int
	Flags  []string // extra seatd flags (timings)

	mu     sync.Mutex
	procs  []*exec.Cmd
	exited []chan struct{}
	paused []bool
	// joinVia[i] >= 0: node i was replaced (removed, wiped) and starts
	// with --join to that node instead of --peers.
	joinVia []int
}

// ID returns node i's id.
func (c *Cluster) ID(i int) string { return fmt.Sprintf("n%d", i+1) }

// ClientAddr returns node i's client protocol address.
func (c *Cluster) ClientAddr(i int) string {
	return net.JoinHostPort(c.Net.IP(i), fmt.Sprint(clientPort))
}

func (c *Cluster) raftAddr(i int) string { return net.JoinHostPort(c.Net.IP(i), fmt.Sprint(raftPort)) }

// Start starts every node.
func (c *Cluster) Start() error {
	c.procs = make([]*exec.Cmd, c.N)
	c.exited = make([]chan struct{}, c.N)
	c.paused = make([]bool, c.N)
	c.joinVia = make([]int, c.N)
	for i := range c.joinVia {
		c.joinVia[i] = -1
	}
	for i := 0; i < c.N; i++ {
		if err := c.StartNode(i); err != nil {
			return err
		}
	}
	return nil
}

// StartNode starts node i (again) on its data directory.
func (c *Cluster) StartNode(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.procs[i] != nil {
		return fmt.Errorf("node %s is already running", c.ID(i))
	}
	var peers []string
	for j := 0; j < c.N; j++ {
		peers = append(peers, c.ID(j)+"="+c.raftAddr(j))
	}
	args := []string{"netns", "exec", c.Net.Namespace(i), c.Binary,
		"--id", c.ID(i),
		"--listen", c.ClientAddr(i),
		"--raft", c.raftAddr(i),
		"--data", c.dataDir(i),
		"--seats", fmt.Sprint(c.Seats),
		"--http", net.JoinHostPort(c.Net.IP(i), fmt.Sprint(httpPort)),
	}
	if via := c.joinVia[i]; via >= 0 {
		args = append(args, "--join", c.raftAddr(via))
	} else {
		args = append(args, "--peers", strings.Join(peers, ","))
	}
	args = append(args, c.Flags...)
	logf, err := os.OpenFile(filepath.Join(c.Dir, c.ID(i)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "==== %s start %s\n", time.Now().Format(time.RFC3339Nano), c.ID(i))
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", c.ID(i), err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	c.procs[i], c.exited[i], c.paused[i] = cmd, done, false
	return nil
}

func (c *Cluster) dataDir(i int) string { return filepath.Join(c.Dir, c.ID(i)) }

// RemoveMember asks node via's membership service (on its --raft port) to
// remove node target from the cluster; the leader checks that the voters
// that remain can still form a majority.
func (c *Cluster) RemoveMember(via, target int) error {
	answer, err := serviceRequest(c.raftAddr(via), 5, "REMOVE "+c.ID(target), 20*time.Second)
	if err != nil {
		return fmt.Errorf("remove %s through %s: %w", c.ID(target), c.ID(via), err)
	}
	if answer != "OK" {
		return fmt.Errorf("remove %s through %s: %s", c.ID(target), c.ID(via), answer)
	}
	return nil
}

// Replace turns node i, which must be stopped, into a fresh machine: its
// data directory is deleted, and its next start joins the cluster through
// node via (same id, same address) instead of bootstrapping.
func (c *Cluster) Replace(i, via int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.procs[i] != nil {
		return fmt.Errorf("replace %s: it is running", c.ID(i))
	}
	if err := os.RemoveAll(c.dataDir(i)); err != nil {
		return fmt.Errorf("replace %s: %w", c.ID(i), err)
	}
	c.joinVia[i] = via
	return nil
}

// Running reports whether node i's process is alive (paused counts).
func (c *Cluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[i] != nil
}

// Exited reports whether node i's process ended by itself: it was started
// and neither killed nor stopped by the harness.
func (c *Cluster) Exited(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.procs[i] == nil {
		return false
	}
	select {
	case <-c.exited[i]:
		return true
	default:
		return false
	}
}

// LogTail returns the last n lines of node i's log.
func (c *Cluster) LogTail(i, n int) string {
	data, err := os.ReadFile(filepath.Join(c.Dir, c.ID(i)+".log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Paused reports whether node i is stopped with SIGSTOP.
func (c *Cluster) Paused(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused[i]
}

// Kill sends SIGKILL to node i and waits for it to die.
func (c *Cluster) Kill(i int) {
	c.signalAndWait(i, syscall.SIGKILL, 10*time.Second)
}

// StopTimeout is how long a node may take to exit after SIGTERM.
const StopTimeout = 20 * time.Second

// Stop sends SIGTERM and waits. A node still running after StopTimeout gets
// SIGQUIT, so that its log ends with every goroutine's stack, and then
// SIGKILL; Stop then reports false.
func (c *Cluster) Stop(i int) bool {
	if c.signalAndWait(i, syscall.SIGTERM, StopTimeout) {
		return true
	}
	if !c.signalAndWait(i, syscall.SIGQUIT, 5*time.Second) {
		c.Kill(i)
	}
	return false
}

func (c *Cluster) signalAndWait(i int, sig syscall.Signal, timeout time.Duration) bool {
	c.mu.Lock()
	cmd, done := c.procs[i], c.exited[i]
	if cmd == nil {
		c.mu.Unlock()
		return true
	}
	if c.paused[i] && sig != syscall.SIGKILL {
		cmd.Process.Signal(syscall.SIGCONT)
	}
	c.mu.Unlock()
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(timeout):
		return false
	}
	c.mu.Lock()
	c.procs[i], c.paused[i] = nil, false
	c.mu.Unlock()
	return true
}

// Pause sends SIGSTOP to node i; Resume sends SIGCONT.
func (c *Cluster) Pause(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.procs[i] != nil {
		c.procs[i].Process.Signal(syscall.SIGSTOP)
		c.paused[i] = true
	}
}

// Resume continues a paused node.
func (c *Cluster) Resume(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.procs[i] != nil && c.paused[i] {
		c.procs[i].Process.Signal(syscall.SIGCONT)
		c.paused[i] = false
	}
}

// StopAll stops every node gracefully and returns the nodes that did not
// stop within StopTimeout.
func (c *Cluster) StopAll() []int {
	var wg sync.WaitGroup
	hung := make([]bool, c.N)
	for i := 0; i < c.N; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); hung[i] = !c.Stop(i) }(i)
	}
	wg.Wait()
	var out []int
	for i, h := range hung {
		if h {
			out = append(out, i)
		}
	}
	return out
}

// KillAll kills every node (cleanup).
func (c *Cluster) KillAll() {
	for i := 0; i < c.N; i++ {
		if c.procs != nil {
			c.Kill(i)
		}
	}
}

// Leader asks live, unpaused nodes LEADER and returns the index of the
// node named, or -1.
func (c *Cluster) Leader(timeout time.Duration) int {
	for i := 0; i < c.N; i++ {
		if !c.Running(i) || c.Paused(i) {
			continue
		}
		resp, err := request(c.ClientAddr(i), "LEADER", timeout)
		if err != nil || !strings.HasPrefix(resp, "LEADER ") {
			continue
		}
		id := strings.Fields(resp)[1]
		for j := 0; j < c.N; j++ {
			if c.ID(j) == id {
				return j
			}
		}
	}
	return -1
}

// InspectReport is one node's own applied state.
type InspectReport struct {
	ID      string
	State   string
	Applied uint64
	Digest  string
}

// Inspect asks node i's inspect service for its local applied state.
func (c *Cluster) Inspect(i int) (InspectReport, error) {
	var r InspectReport
	line, err := serviceRequest(c.raftAddr(i), 3, "", 5*time.Second)
	if err != nil {
		return r, err
	}
	if _, err := fmt.Sscanf(line, "INSPECT %s %s %d %s", &r.ID, &r.State, &r.Applied, &r.Digest); err != nil {
		return r, fmt.Errorf("inspect answer %q: %w", line, err)
	}
	return r, nil
}

// request sends one line on a fresh connection and returns the answer.
func request(addr, line string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	resp, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(resp, "\n"), nil
}

// Readiness asks node i's /readyz and returns the HTTP status code.
func (c *Cluster) Readiness(i int) (int, error) {
	hc := http.Client{Timeout: time.Second}
	resp, err := hc.Get("http://" + net.JoinHostPort(c.Net.IP(i), fmt.Sprint(httpPort)) + "/readyz")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// serviceRequest opens a connection to a node-to-node service (its header
// byte), sends line (if any) and returns the one answer line.
func serviceRequest(addr string, header byte, line string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	msg := []byte{header}
	if line != "" {
		msg = append(msg, line+"\n"...)
	}
	if _, err := conn.Write(msg); err != nil {
		return "", err
	}
	answer, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(answer, "\n"), nil
}
