package robustness

import (
	"bufio"
	"fmt"
	"math/rand"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OpKind is what an operation does.
type OpKind uint8

// Operation kinds.
const (
	OpReserve OpKind = iota
	OpCancel
	OpStatus
)

func (k OpKind) String() string {
	return [...]string{"RESERVE", "CANCEL", "STATUS"}[k]
}

// Op is one recorded operation: one client request, including every retry
// of it with the same id, from the first attempt's invocation to the final
// answer.
type Op struct {
	Client int
	Kind   OpKind
	Seat   int
	Holder string
	ID     string
	Call   int64 // ns since the run started
	Return int64 // ns since the run started; meaningless when Unknown
	// Result is the final answer; empty when Unknown.
	Result string
	// Unknown is set for a write that got no definite answer: it may or
	// may not have taken effect.
	Unknown  bool
	Attempts int
	Node     int // node that gave the final answer (-1 if none)
}

// Line returns the request line of the operation.
func (o *Op) Line() string {
	var b strings.Builder
	b.WriteString(o.Kind.String())
	fmt.Fprintf(&b, " %d", o.Seat)
	if o.Holder != "" {
		b.WriteString(" " + o.Holder)
	}
	if o.ID != "" {
		b.WriteString(" id=" + o.ID)
	}
	return b.String()
}

// WorkloadConfig shapes the traffic.
type WorkloadConfig struct {
	Clients int
	// Window is how many seats are in play at once; WindowOps how many
	// operations are made before the window moves on to fresh seats
	// (this keeps each seat's history short for the checker).
	Window    int
	WindowOps int
	// Interval is each client's pause between operations.
	Interval time.Duration
	// AttemptTimeout bounds one attempt; OpTimeout a whole operation.
	AttemptTimeout time.Duration
	OpTimeout      time.Duration
}

// Workload runs clients against a cluster and records their history.
type Workload struct {
	cfg     WorkloadConfig
	cluster *Cluster
	start   time.Time
	seed    int64

	opsStarted atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup

	mu  sync.Mutex
	ops []*Op
}

// NewWorkload prepares a workload; start is the run's time origin.
func NewWorkload(cfg WorkloadConfig, c *Cluster, start time.Time, seed int64) *Workload {
	return &Workload{cfg: cfg, cluster: c, start: start, seed: seed, stop: make(chan struct{})}
}

// Start launches the clients.
func (w *Workload) Start() {
	for i := 0; i < w.cfg.Clients; i++ {
		w.wg.Add(1)
		go w.client(i)
	}
}

// Stop stops the clients and waits for their last operations.
func (w *Workload) Stop() {
	close(w.stop)
	w.wg.Wait()
}

// History returns the recorded operations (call after Stop).
func (w *Workload) History() []*Op {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*Op(nil), w.ops...)
}

// Completed counts operations with a definite answer that returned by t.
func (w *Workload) Completed(until time.Duration) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, o := range w.ops {
		if !o.Unknown && o.Result != "" && o.Return <= int64(until) {
			n++
		}
	}
	return n
}

func (w *Workload) now() int64 { return int64(time.Since(w.start)) }

// seatWindow returns the seats in play for the k-th operation.
func (w *Workload) seatWindow(k int64) (lo, n int) {
	base := int(k/int64(w.cfg.WindowOps)) * w.cfg.Window
	return base + 1, w.cfg.Window
}

func (w *Workload) client(id int) {
	defer w.wg.Done()
	rng := rand.New(rand.NewSource(w.seed*1000 + int64(id)))
	sess := &session{w: w, id: id, node: id % w.cluster.N, conns: make(map[int]*lineConn)}
	defer sess.closeAll()
	var mine []*Op // this client's acknowledged bookings (holder is unique)
	for seq := 0; ; seq++ {
		select {
		case <-w.stop:
			return
		case <-time.After(w.cfg.Interval):
		}
		k := w.opsStarted.Add(1)
		lo, n := w.seatWindow(k)
		op := &Op{Client: id, Node: -1}
		r := rng.Intn(100)
		switch {
		case r < 40:
			op.Kind = OpReserve
			op.Seat = lo + rng.Intn(n)
			if rng.Intn(10) > 0 {
				op.Holder = fmt.Sprintf("c%d-%d", id, seq)
			}
			op.ID = fmt.Sprintf("w%d-%d-%d", w.seed, id, seq)
		case r < 60:
			op.Kind = OpCancel
			// Cancel one of our bookings still in the window, or try a
			// random seat (mostly answered NOT_BOOKED / NOT_HOLDER).
			var candidates []*Op
			for _, m := range mine {
				if m.Seat >= lo && m.Seat < lo+n {
					candidates = append(candidates, m)
				}
			}
			if len(candidates) > 0 && rng.Intn(4) > 0 {
				m := candidates[rng.Intn(len(candidates))]
				op.Seat, op.Holder = m.Seat, m.Holder
			} else {
				op.Seat = lo + rng.Intn(n)
				if rng.Intn(3) > 0 {
					op.Holder = fmt.Sprintf("c%d-%d", id, seq)
				}
			}
			op.ID = fmt.Sprintf("w%d-%d-%d", w.seed, id, seq)
		default:
			op.Kind = OpStatus
			op.Seat = lo + rng.Intn(n)
		}
		sess.do(op)
		if op.Kind == OpReserve && op.Result == "SUCCESS" && op.Holder != "" {
			mine = append(mine, op)
		}
		if len(mine) > 64 {
			mine = mine[len(mine)-64:]
		}
		if op.Result == "" && !op.Unknown {
			continue // a read that never got an answer tells nothing
		}
		w.mu.Lock()
		w.ops = append(w.ops, op)
		w.mu.Unlock()
	}
}

// session is one client's connections, one per node, used one request at
// a time.
type session struct {
	w     *Workload
	id    int
	node  int
	conns map[int]*lineConn
}

type lineConn struct {
	c net.Conn
	r *bufio.Reader
}

func (s *session) closeAll() {
	for _, c := range s.conns {
		c.c.Close()
	}
}

// do performs op, retrying the same line (same id) on the next node after
// an ERROR answer or a connection failure, until a definite answer or the
// operation's timeout.
func (s *session) do(op *Op) {
	line := op.Line()
	op.Call = s.w.now()
	deadline := time.Now().Add(s.w.cfg.OpTimeout)
	for time.Now().Before(deadline) {
		op.Attempts++
		resp, err := s.attempt(s.node, line)
		if err == nil && !strings.HasPrefix(resp, "ERROR") {
			op.Return = s.w.now()
			op.Result = resp
			op.Node = s.node
			return
		}
		s.node = (s.node + 1) % s.w.cluster.N
		if err != nil || strings.HasPrefix(resp, "ERROR") {
			select {
			case <-s.w.stop:
				// Still finish the operation: an unknown write must be
				// resolved or recorded as unknown, but do not linger.
				if time.Until(deadline) > 2*time.Second {
					deadline = time.Now().Add(2 * time.Second)
				}
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	if op.Kind != OpStatus {
		op.Unknown = true
	}
}

func (s *session) attempt(node int, line string) (string, error) {
	c := s.conns[node]
	if c == nil {
		conn, err := net.DialTimeout("tcp", s.w.cluster.ClientAddr(node), s.w.cfg.AttemptTimeout)
		if err != nil {
			return "", err
		}
		c = &lineConn{c: conn, r: bufio.NewReader(conn)}
		s.conns[node] = c
	}
	c.c.SetDeadline(time.Now().Add(s.w.cfg.AttemptTimeout))
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		c.c.Close()
		delete(s.conns, node)
		return "", err
	}
	resp, err := c.r.ReadString('\n')
	if err != nil {
		c.c.Close()
		delete(s.conns, node)
		return "", err
	}
	return strings.TrimSuffix(resp, "\n"), nil
}
