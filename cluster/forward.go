package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/transport"
)

// Errors passed to Request.Forwarded when no answer came back.
var (
	// ErrNotSent means the request never left this node: nothing can have
	// been applied, so it is safe to route it again.
	ErrNotSent = errors.New("cluster: request not sent to the leader")
	// ErrConnLost means the request was sent but the connection failed or
	// the leader did not answer in time: the outcome is unknown.
	ErrConnLost = errors.New("cluster: connection to the leader lost before the answer")
	// ErrClosed is passed to Request.Forwarded for a request sent after the
	// Forwarder was closed: nothing was sent.
	ErrClosed = errors.New("cluster: forwarder closed")
)

// Request is a request a Forwarder can carry. The node's own request type
// implements it, so forwarding costs no extra allocation per request.
type Request interface {
	// AppendLine appends the request's canonical protocol line, '\n'
	// included, to dst.
	AppendLine(dst []byte) []byte
	// Forwarded is called exactly once, with the leader's answer line or
	// with an error (ErrNotSent, ErrConnLost or ErrClosed). It runs on the
	// Forwarder's goroutines and must not block.
	Forwarded(resp string, err error)
}

// ForwarderConfig configures a Forwarder.
type ForwarderConfig struct {
	Dialer *transport.Dialer
	// Conns is how many connections are kept to the leader (default 1).
	// One connection carries the most requests per system call on both
	// ends; with 16, 64 and 256 clients through all nodes, one gave 3-5%
	// more writes/s than four on a 2-core machine (docs/benchmarks.md).
	Conns int
	// DialTimeout bounds opening a connection (default 2s).
	DialTimeout time.Duration
	// AnswerTimeout is how long the oldest request on a connection may wait
	// for its answer before the connection is declared dead (the leader
	// answers every request within its own request timeout, so this should
	// be a little longer than that).
	AnswerTimeout time.Duration
	Logger        hclog.Logger
}

// Forwarder sends requests to the leader over persistent pipelined
// connections. It is safe for concurrent use.
type Forwarder struct {
	cfg ForwarderConfig
	// stop is cancelled by Close: a dial or TLS handshake under way to a
	// leader that does not answer is given up at once.
	stop       context.Context
	cancelStop context.CancelFunc

	mu     sync.Mutex
	pools  map[string][]*fwdConn // by leader address
	closed bool
	wg     sync.WaitGroup // every fwdConn's goroutines
}

// NewForwarder returns a Forwarder; connections are opened on first use.
func NewForwarder(cfg ForwarderConfig) *Forwarder {
	if cfg.Conns <= 0 {
		cfg.Conns = 1
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	cfg.Logger = cfg.Logger.Named("forwarder")
	stop, cancel := context.WithCancel(context.Background())
	return &Forwarder{cfg: cfg, stop: stop, cancelStop: cancel, pools: make(map[string][]*fwdConn)}
}

// Send queues r for the leader at addr (its node-to-node address). Requests
// with the same key travel on the same connection, so they reach the leader
// in the order they were sent. Send never blocks on the network; the answer
// arrives through r.Forwarded.
func (f *Forwarder) Send(addr string, key uint64, r Request) {
	for attempt := 0; attempt < 2; attempt++ {
		c := f.pick(addr, key)
		if c == nil {
			r.Forwarded("", ErrClosed)
			return
		}
		if c.enqueue(r) {
			return
		}
		// The connection died between pick and enqueue; it has removed
		// itself from the pool, so the next pick opens a fresh one.
	}
	r.Forwarded("", ErrNotSent)
}

// pick returns the live connection to addr for key, opening connections
// until the pool is full.
func (f *Forwarder) pick(addr string, key uint64) *fwdConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	pool := f.pools[addr]
	if pool == nil {
		pool = make([]*fwdConn, f.cfg.Conns)
		f.pools[addr] = pool
	}
	// A key keeps its slot when a connection is replaced, so one client
	// connection's requests never split over two live links.
	slot := int(key % uint64(len(pool)))
	if pool[slot] == nil {
		c := newFwdConn(f, addr, slot)
		pool[slot] = c
		f.wg.Add(1)
		go c.run()
	}
	return pool[slot]
}

// remove drops a dead connection from its pool.
func (f *Forwarder) remove(c *fwdConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pool := f.pools[c.addr]
	if pool == nil || pool[c.slot] != c {
		return
	}
	pool[c.slot] = nil
	for _, other := range pool {
		if other != nil {
			return
		}
	}
	delete(f.pools, c.addr)
}

// Close closes every connection, gives up dials under way (requests still
// waiting get ErrConnLost or ErrNotSent) and waits for the Forwarder's
// goroutines.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	var all []*fwdConn
	for _, pool := range f.pools {
		for _, c := range pool {
			if c != nil {
				all = append(all, c)
			}
		}
	}
	f.mu.Unlock()
	f.cancelStop()
	for _, c := range all {
		c.fail(ErrClosed)
	}
	f.wg.Wait()
	return nil
}

type pendingReq struct {
	r      Request
	sentAt time.Time
}

// fwdConn is one pipelined connection to the leader. Its writer goroutine
// (run) sends queued requests; its reader goroutine matches answers to
// pending requests in order.
type fwdConn struct {
	f    *Forwarder
	addr string
	slot int           // index in the pool of addr
	wake chan struct{} // cap 1: the queue is not empty

	mu      sync.Mutex
	queue   []Request    // not yet written
	pending []pendingReq // written, awaiting answers, oldest first
	dead    bool
	conn    net.Conn
}

func newFwdConn(f *Forwarder, addr string, slot int) *fwdConn {
	return &fwdConn{f: f, addr: addr, slot: slot, wake: make(chan struct{}, 1)}
}

func (c *fwdConn) enqueue(r Request) bool {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// fail kills the connection once: it is removed from the pool, closed, and
// every request on it is answered with an error.
func (c *fwdConn) fail(cause error) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.dead = true
	queue, pending, conn := c.queue, c.pending, c.conn
	c.queue, c.pending = nil, nil
	c.mu.Unlock()

	c.f.remove(c)
	if conn != nil {
		conn.Close()
	}
	select { // let the writer see that it is dead
	case c.wake <- struct{}{}:
	default:
	}
	if !errors.Is(cause, ErrClosed) {
		c.f.cfg.Logger.Debug("forwarding connection failed", "leader", c.addr, "error", cause,
			"unanswered", len(pending), "unsent", len(queue))
	}
	for _, p := range pending {
		p.r.Forwarded("", ErrConnLost)
	}
	for _, r := range queue {
		r.Forwarded("", ErrNotSent)
	}
}

// run dials, starts the reader, then writes queued requests until the
// connection dies.
func (c *fwdConn) run() {
	defer c.f.wg.Done()
	conn, err := c.f.cfg.Dialer.DialContext(c.f.stop, transport.HeaderForward, c.addr, c.f.cfg.DialTimeout)
	if err != nil {
		c.fail(fmt.Errorf("dial leader: %w", err))
		return
	}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		conn.Close()
		return
	}
	c.conn = conn
	c.mu.Unlock()

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.readLoop(conn)
	}()
	defer func() { <-readerDone }()

	var buf []byte
	for range c.wake {
		c.mu.Lock()
		if c.dead {
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = nil
		now := time.Now()
		if len(c.pending) == 0 && len(batch) > 0 {
			conn.SetReadDeadline(now.Add(c.f.cfg.AnswerTimeout))
		}
		buf = buf[:0]
		for _, r := range batch {
			c.pending = append(c.pending, pendingReq{r: r, sentAt: now})
			buf = r.AppendLine(buf)
		}
		c.mu.Unlock()
		if len(buf) == 0 {
			continue
		}
		conn.SetWriteDeadline(now.Add(c.f.cfg.AnswerTimeout))
		if _, err := conn.Write(buf); err != nil {
			c.fail(fmt.Errorf("write to leader: %w", err))
			return
		}
	}
}

func (c *fwdConn) readLoop(conn net.Conn) {
	lr := protocol.NewAnswerReader(conn) // answers may be longer than a request (EVENT LIST)
	for {
		line, err := lr.ReadLine()
		if err != nil {
			c.fail(fmt.Errorf("read from leader: %w", err))
			return
		}
		resp := string(line)
		if n := len(resp); n > 0 && resp[n-1] == '\r' {
			resp = resp[:n-1]
		}
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.mu.Unlock()
			c.fail(errors.New("leader sent an answer nobody asked for"))
			return
		}
		p := c.pending[0]
		c.pending[0] = pendingReq{}
		c.pending = c.pending[1:]
		if len(c.pending) == 0 {
			conn.SetReadDeadline(time.Time{})
		} else {
			conn.SetReadDeadline(c.pending[0].sentAt.Add(c.f.cfg.AnswerTimeout))
		}
		c.mu.Unlock()
		p.r.Forwarded(resp, nil)
	}
}
