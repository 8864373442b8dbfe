package bench

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/seatd/seatd/client"
	"github.com/seatd/seatd/protocol"
)

// Histogram range and precision, in microseconds.
const (
	histMinMicros = 1
	histMaxMicros = 60_000_000
	histDigits    = 3
)

// reconnectPause is how long a client waits before dialling again after its
// connection failed.
const reconnectPause = 100 * time.Millisecond

// maxErrorSamples is how many connection error messages a Result keeps.
const maxErrorSamples = 5

// leaderLookupTimeout bounds the search for the leader.
const leaderLookupTimeout = 15 * time.Second

// errSeatsExhausted is returned (wrapped) when the distinct seat space
// runs out.
var errSeatsExhausted = errors.New("distinct seat space exhausted")

// errTooFewSeats is returned (wrapped) when a seat the run uses is not in
// the cluster's event: every answer after it would be FAILED_INVALID_SEAT,
// and the figures would measure refusals, not bookings.
var errTooFewSeats = errors.New("the cluster has fewer seats than the run uses")

// Run runs one benchmark: it connects cfg.Clients connections to the nodes
// cfg.Target selects, loads them for cfg.Warmup plus cfg.Duration, and
// returns what was measured after the warm-up. It fails when the
// configuration is invalid, the leader cannot be found, a connection cannot
// be opened at the start, the distinct seat space runs out, a seat the run
// uses is not in the cluster's event (errTooFewSeats), or ctx ends.
// Connection failures during the run are counted, not fatal.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bench: config: %w", err)
	}
	switch cfg.Workload {
	case WorkloadFailover:
		return runFailover(ctx, cfg)
	case WorkloadOnSale:
		return runOnSale(ctx, cfg)
	}
	addrs, err := targetAddrs(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: target %s: %w", cfg.Target, err)
	}
	runID, err := newRunID()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}

	r := &runner{
		cfg:    cfg,
		runID:  runID,
		warm:   cfg.Warmup,
		end:    cfg.Warmup + cfg.Duration,
		stopCh: make(chan struct{}),
		dialer: net.Dialer{Timeout: cfg.DialTimeout},
	}
	r.nextSeat.Store(int64(cfg.SeatStart))

	// Dial every connection before the clock starts, so that connection
	// set-up is not part of the load.
	clients := make([]*benchClient, cfg.Clients)
	conns := make([]net.Conn, cfg.Clients)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	for i := range clients {
		clients[i] = r.newClient(i, addrs[i%len(addrs)])
		nc, err := r.dial(ctx, clients[i].addr)
		if err != nil {
			return nil, fmt.Errorf("bench: connecting client %d to %s: %w", i, clients[i].addr, err)
		}
		conns[i] = nc
	}

	return r.execute(ctx, func() {
		var wg sync.WaitGroup
		for i, c := range clients {
			nc := conns[i]
			conns[i] = nil // the client owns it now
			wg.Go(func() { c.run(ctx, nc) })
		}
		wg.Wait()
	}, func(started time.Time) *Result { return r.result(clients, addrs, started) })
}

// execute runs one measured run: it starts the clock, the timer that ends
// the run, the flush probe and the CPU watch, runs load (which returns once
// its clients have stopped), and builds the result with collect, adding
// what the probe and the watch measured.
func (r *runner) execute(ctx context.Context, load func(), collect func(started time.Time) *Result) (*Result, error) {
	started := time.Now()
	r.base = started
	timer := time.AfterFunc(r.end, r.stop)
	defer timer.Stop()
	ctxDone := context.AfterFunc(ctx, r.stop)
	defer ctxDone()
	probe := r.startFlushProbe()
	cpu := r.startCPUWatch()

	load()

	if err := r.fatalErr(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench: run interrupted: %w", err)
	}
	res := collect(started)
	var err error
	if res.FlushProbe, err = probe(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if res.ServerCPUSec, err = cpu(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if res.ServerCPUSec > 0 && res.Committed > 0 {
		res.CPUPerOpMicros = res.ServerCPUSec * 1e6 / float64(res.Committed)
	}
	return res, nil
}

// targetAddrs returns the addresses the clients connect to, round robin.
func targetAddrs(ctx context.Context, cfg Config) ([]string, error) {
	if cfg.Target == TargetAll {
		return cfg.Addrs, nil
	}
	leader, err := findLeader(ctx, cfg.Addrs, cfg.TLS)
	if err != nil {
		return nil, err
	}
	li := slices.Index(cfg.IDs, leader)
	if li < 0 {
		return nil, fmt.Errorf("the leader is %q, which is not among the node ids %s of the addresses %s (give the ids in address order)",
			leader, strings.Join(cfg.IDs, ","), strings.Join(cfg.Addrs, ","))
	}
	if cfg.Target == TargetLeader {
		return []string{cfg.Addrs[li]}, nil
	}
	for i, a := range cfg.Addrs {
		if i != li {
			return []string{a}, nil
		}
	}
	return nil, errors.New("no follower among the addresses")
}

// dial opens one client connection, over TLS when configured.
func (r *runner) dial(ctx context.Context, addr string) (net.Conn, error) {
	if r.cfg.TLS == nil {
		return r.dialer.DialContext(ctx, "tcp", addr)
	}
	cfg := r.cfg.TLS.Clone()
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	d := tls.Dialer{NetDialer: &r.dialer, Config: cfg}
	return d.DialContext(ctx, "tcp", addr)
}

// findLeader asks the nodes (through the client library, which moves on to
// the next address when one is down) which node leads.
func findLeader(ctx context.Context, addrs []string, tlsCfg *tls.Config) (string, error) {
	c, err := client.New(client.Config{Addrs: addrs, RetryFor: leaderLookupTimeout, TLS: tlsCfg})
	if err != nil {
		return "", fmt.Errorf("finding the leader: %w", err)
	}
	defer c.Close()
	resp, err := c.Do(ctx, "LEADER")
	if err != nil {
		return "", fmt.Errorf("finding the leader: %w", err)
	}
	fields := strings.Fields(resp)
	if len(fields) < 2 || fields[0] != "LEADER" {
		return "", fmt.Errorf("finding the leader: LEADER answered %q", resp)
	}
	return fields[1], nil
}

// newRunID returns a random prefix that makes this run's ids unique.
func newRunID() (string, error) {
	var b [4]byte
	if _, err := crand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// runner is the state shared by the clients of one run.
type runner struct {
	cfg    Config
	runID  string
	dialer net.Dialer

	base      time.Time     // start of the run; times below are offsets from it
	warm, end time.Duration // measured window: [warm, end]

	stopped  atomic.Bool
	stopOnce sync.Once
	stopCh   chan struct{} // closed by stop

	nextSeat atomic.Int64 // next distinct seat

	mu    sync.Mutex
	fatal error // first fatal error (seat space exhausted, too few seats)
}

// stop ends the run: writers stop sending and drain.
func (r *runner) stop() {
	r.stopOnce.Do(func() {
		r.stopped.Store(true)
		close(r.stopCh)
	})
}

// fail records a fatal error and stops the run.
func (r *runner) fail(err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.mu.Unlock()
	r.stop()
}

func (r *runner) fatalErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

// now is the time since the start of the run (monotonic).
func (r *runner) now() time.Duration { return time.Since(r.base) }

// inWindow reports whether a request sent at sent and answered at done
// counts.
func (r *runner) inWindow(sent, done time.Duration) bool {
	return sent >= r.warm && done <= r.end
}

// distinctSeat hands out the next never-used seat, or fails the run when
// none is left.
func (r *runner) distinctSeat() (uint32, bool) {
	s := r.nextSeat.Add(1) - 1
	if s >= int64(r.cfg.SeatStart)+int64(r.cfg.Seats) {
		r.fail(fmt.Errorf("%w: all %d seats from %d to %d were used; raise --seats (the cluster needs that many seats too), use another --seat-start or shorten the run",
			errSeatsExhausted, r.cfg.Seats, r.cfg.SeatStart, int64(r.cfg.SeatStart)+int64(r.cfg.Seats)-1))
		return 0, false
	}
	return uint32(s), true
}

// bookedSeat returns a random seat among those the run has handed out for
// booking so far (SeatStart when none).
func (r *runner) bookedSeat(rng *rand.Rand) uint32 {
	n := r.nextSeat.Load() - int64(r.cfg.SeatStart)
	n = min(n, int64(r.cfg.Seats))
	if n <= 0 {
		return uint32(r.cfg.SeatStart)
	}
	return uint32(int64(r.cfg.SeatStart) + rng.Int64N(n))
}

// op is what a request does.
type op uint8

const (
	opReserve op = iota
	opCancel
	opStatus
)

// pending is one request written and not yet answered.
type pending struct {
	sent time.Duration // since runner.base
	op   op
	seat uint32
}

// benchClient is one connection's load and statistics. The statistics are
// written by the connection's reader goroutine only (one at a time: a
// new connection's reader starts after the old one ended).
type benchClient struct {
	r        *runner
	idx      int
	addr     string
	holder   []byte // "b<idx>"
	idPrefix []byte // "<run>.<idx>."
	seq      uint64
	rng      *rand.Rand

	hist       *hdrhistogram.Histogram
	answers    map[string]*int64
	errors     int64
	errSamples []string
}

func (r *runner) newClient(idx int, addr string) *benchClient {
	var seed [16]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails
	return &benchClient{
		r:        r,
		idx:      idx,
		addr:     addr,
		holder:   strconv.AppendInt([]byte("b"), int64(idx), 10),
		idPrefix: strconv.AppendInt([]byte(r.runID+"."), int64(idx), 10),
		rng: rand.New(rand.NewPCG(
			binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
		hist:    hdrhistogram.New(histMinMicros, histMaxMicros, histDigits),
		answers: make(map[string]*int64),
	}
}

// run drives the client's connection until the run stops, dialling again
// after failures.
func (c *benchClient) run(ctx context.Context, nc net.Conn) {
	for {
		if err := c.session(nc); err != nil {
			c.noteError(err)
		}
		nc = nil
		for nc == nil {
			select {
			case <-c.r.stopCh:
				return
			case <-time.After(reconnectPause):
			}
			var err error
			nc, err = c.r.dial(ctx, c.addr)
			if err != nil {
				c.noteError(fmt.Errorf("reconnecting to %s: %w", c.addr, err))
				nc = nil
			}
		}
	}
}

// noteError counts a connection failure that happened in the measured
// window.
func (c *benchClient) noteError(err error) {
	if t := c.r.now(); t < c.r.warm || t > c.r.end {
		return
	}
	c.errors++
	if len(c.errSamples) < maxErrorSamples {
		c.errSamples = append(c.errSamples, fmt.Sprintf("client %d: %v", c.idx, err))
	}
}

// session is one connection's life.
type session struct {
	nc      net.Conn
	slots   chan struct{} // one token per request in flight (the window)
	queue   chan pending  // requests in flight, oldest first
	follow  chan uint32   // contention: seats to cancel next
	dead    chan struct{} // closed when the reader fails
	closing atomic.Bool   // the connection is closed on purpose
}

// kill is the reader's failure: it wakes the writer and closes the
// connection, so that a writer blocked in a write returns too.
func (s *session) kill() {
	close(s.dead)
	s.nc.Close()
}

// errDead tells the writer's caller that the reader failed (and reported).
var errDead = errors.New("reader failed")

// session loads nc until the run stops or the connection fails, then
// closes it. It returns the connection's failure, nil when the run ended.
func (c *benchClient) session(nc net.Conn) error {
	p := c.r.cfg.Pipeline
	s := &session{
		nc:     nc,
		slots:  make(chan struct{}, p),
		queue:  make(chan pending, p),
		follow: make(chan uint32, 2*p),
		dead:   make(chan struct{}),
	}
	readErr := make(chan error, 1)
	go func() { readErr <- c.readLoop(s) }()

	werr := c.writeLoop(s)
	if werr == nil {
		c.drain(s)
	}
	s.closing.Store(true)
	nc.Close()
	// The reader's failure, when it failed, is the cause; the writer
	// then fails only because the reader closed the connection.
	if rerr := <-readErr; rerr != nil {
		return rerr
	}
	if errors.Is(werr, errDead) {
		return nil // not reached: errDead means the reader failed
	}
	return werr
}

// drain waits, within DrainTimeout, for the answers still outstanding
// (they are not counted: the run has ended), so that the node is not left
// with requests of a closed connection.
func (c *benchClient) drain(s *session) {
	timer := time.NewTimer(c.r.cfg.DrainTimeout)
	defer timer.Stop()
	for range cap(s.slots) {
		select {
		case s.slots <- struct{}{}:
		case <-s.dead:
			return
		case <-timer.C:
			return
		}
	}
}

// lineRoom is more than the longest line the writer builds, so that a line
// always fits in the buffered writer's free space.
const lineRoom = 256 // with an event name of up to 64 bytes

// writeLoop sends requests while the window has room, until the run stops
// (nil) or the connection fails.
func (c *benchClient) writeLoop(s *session) error {
	bw := bufio.NewWriterSize(s.nc, 16<<10)
	r := c.r
	for {
		if r.stopped.Load() {
			return flush(bw, c.addr)
		}
		select {
		case s.slots <- struct{}{}:
		default:
			// The window is full: send what is buffered, then wait.
			if err := flush(bw, c.addr); err != nil {
				return err
			}
			select {
			case s.slots <- struct{}{}:
			case <-s.dead:
				return errDead
			case <-r.stopCh:
				return nil
			}
		}
		o, seat, ok := c.next(s)
		if !ok { // seat space exhausted: the run is stopping
			<-s.slots
			return flush(bw, c.addr)
		}
		if bw.Available() < lineRoom {
			if err := flush(bw, c.addr); err != nil {
				return err
			}
		}
		s.queue <- pending{sent: r.now(), op: o, seat: seat}
		if _, err := bw.Write(c.appendLine(bw.AvailableBuffer(), o, seat)); err != nil {
			return fmt.Errorf("write to %s: %w", c.addr, err)
		}
	}
}

func flush(bw *bufio.Writer, addr string) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write to %s: %w", addr, err)
	}
	return nil
}

// next chooses the next request.
func (c *benchClient) next(s *session) (op, uint32, bool) {
	switch c.r.cfg.Workload {
	case WorkloadContention:
		select {
		case seat := <-s.follow:
			return opCancel, seat, true
		default:
			return opReserve, uint32(1 + c.rng.IntN(contentionSeats)), true
		}
	case WorkloadMixed:
		if c.rng.IntN(2) == 0 {
			return opStatus, c.r.bookedSeat(c.rng), true
		}
	case WorkloadRead:
		return opStatus, uint32(1 + c.rng.IntN(min(c.r.cfg.Seats, readSeats))), true
	}
	seat, ok := c.r.distinctSeat()
	return opReserve, seat, ok
}

// appendLine appends the request line to dst:
// "RESERVE|CANCEL <seat> b<client> [event=<e>] id=<run>.<client>.<seq>" or
// "STATUS <seat> [event=<e>]".
func (c *benchClient) appendLine(dst []byte, o op, seat uint32) []byte {
	switch o {
	case opStatus:
		dst = append(dst, "STATUS "...)
		dst = strconv.AppendUint(dst, uint64(seat), 10)
		dst = c.appendEvent(dst)
		return append(dst, '\n')
	case opCancel:
		dst = append(dst, "CANCEL "...)
	default:
		dst = append(dst, "RESERVE "...)
	}
	dst = strconv.AppendUint(dst, uint64(seat), 10)
	dst = append(dst, ' ')
	dst = append(dst, c.holder...)
	dst = c.appendEvent(dst)
	dst = append(dst, " id="...)
	dst = append(dst, c.idPrefix...)
	dst = append(dst, '.')
	c.seq++
	dst = strconv.AppendUint(dst, c.seq, 10)
	return append(dst, '\n')
}

func (c *benchClient) appendEvent(dst []byte) []byte {
	if c.r.cfg.Event == "" {
		return dst
	}
	dst = append(dst, " event="...)
	return append(dst, c.r.cfg.Event...)
}

var (
	success     = []byte(protocol.Success)
	invalidSeat = []byte(protocol.FailedInvalidSeat)
)

// readLoop matches answers to requests and records them, until the
// connection is closed (nil when on purpose).
func (c *benchClient) readLoop(s *session) error {
	lr := protocol.NewLineReader(s.nc)
	r := c.r
	for {
		line, err := lr.ReadLine()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			s.kill()
			return fmt.Errorf("read from %s: %w", c.addr, err)
		}
		done := r.now()
		line = bytes.TrimSuffix(line, []byte{'\r'})
		var p pending
		select {
		case p = <-s.queue:
		default:
			s.kill()
			return fmt.Errorf("%s answered %q with no request outstanding", c.addr, line)
		}
		if p.op == opReserve && r.cfg.Workload == WorkloadContention && bytes.Equal(line, success) {
			select {
			case s.follow <- p.seat:
			default:
				// Only when 2×Pipeline cancels wait, which the window
				// prevents. The seat would stay booked by this client
				// until it draws the seat again (its own RESERVE
				// succeeds again and is followed by a CANCEL).
			}
		}
		if bytes.Equal(line, invalidSeat) && !r.stopped.Load() {
			r.fail(r.tooFewSeats(p.seat))
		}
		if r.inWindow(p.sent, done) {
			c.record(done-p.sent, line)
		}
		<-s.slots
	}
}

// tooFewSeats is the error of a run whose seat answered FAILED_INVALID_SEAT:
// which seats the workload uses, and how to give the event that many.
func (r *runner) tooFewSeats(seat uint32) error {
	highest := int64(r.cfg.SeatStart) + int64(r.cfg.Seats) - 1
	shrink := "or book fewer with --seats (and --seat-start)"
	switch r.cfg.Workload {
	case WorkloadContention:
		highest, shrink = contentionSeats, ""
	case WorkloadRead:
		highest, shrink = int64(min(r.cfg.Seats, readSeats)), "or ask about fewer with --seats"
	}
	var grow string
	switch {
	case highest > protocol.MaxEventSeats:
		grow = fmt.Sprintf("no event has more than %d seats", protocol.MaxEventSeats)
	case r.cfg.Event != "":
		grow = fmt.Sprintf("create the event with that many (EVENT CREATE %s %d)", r.cfg.Event, highest)
	default:
		grow = fmt.Sprintf("start a new cluster with --seats %d or more (scripts/cluster.sh --fresh --seats %d)", highest, highest)
	}
	event := "the default event"
	if r.cfg.Event != "" {
		event = "event " + r.cfg.Event
	}
	advice := grow
	if shrink != "" {
		advice += ", " + shrink
	}
	return fmt.Errorf("%w: seat %d answered %s, and the %s workload uses seats up to %d of %s: %s",
		errTooFewSeats, seat, protocol.FailedInvalidSeat, r.cfg.Workload, highest, event, advice)
}

// record counts one answer and its latency.
func (c *benchClient) record(lat time.Duration, line []byte) {
	us := lat.Microseconds()
	us = max(us, histMinMicros)
	us = min(us, histMaxMicros)
	_ = c.hist.RecordValue(us) // in range by construction
	k := kindOf(line)
	if n, ok := c.answers[string(k)]; ok {
		*n++
		return
	}
	n := int64(1)
	c.answers[string(k)] = &n
}

// kindOf returns the first word of an answer, or the first two of an
// ERROR line.
func kindOf(line []byte) []byte {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return line
	}
	if string(line[:i]) != "ERROR" {
		return line[:i]
	}
	if j := bytes.IndexByte(line[i+1:], ' '); j >= 0 {
		return line[:i+1+j]
	}
	return line
}
