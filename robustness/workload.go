package robustness

import (
	"bufio"
	"fmt"
	"math/rand"
	"net"
	"strconv"
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
	OpHold
	OpEventCreate
	OpEventDelete
)

// String returns the kind's request verb.
func (k OpKind) String() string {
	return [...]string{"RESERVE", "CANCEL", "STATUS", "HOLD", "EVENT CREATE", "EVENT DELETE"}[k]
}

// IsWrite reports whether the kind changes state (goes through the log).
func (k OpKind) IsWrite() bool { return k != OpStatus }

// isSeatWrite reports whether the kind is a write of seats.
func (k OpKind) isSeatWrite() bool { return k == OpReserve || k == OpCancel || k == OpHold }

// DefaultEvent is the event every cluster has from its creation.
const DefaultEvent = "default"

// GroupSize is how many adjacent seats form one group: a multi-seat request
// names seats of one group only, and the checker's partitions are groups.
const GroupSize = 4

// Op is one recorded operation: one client request, including every retry
// of it with the same id, from the first attempt's invocation to the final
// answer.
type Op struct {
	Client int
	Kind   OpKind
	// Event is the event as the request line names it: "" for a request
	// without event= (the default event). For EVENT CREATE and DELETE it
	// is the event acted on.
	Event string
	// Seats are the seats the request names, ascending (one for a single
	// seat; a seat 0, which no event has, may lead a list).
	Seats []int
	// Range writes the seats as lo-hi instead of a comma list.
	Range  bool
	Holder string
	TTL    int // HOLD: seconds; 0 = the server's default (not used)
	Count  int // EVENT CREATE: seats of the event
	ID     string
	Call   int64 // ns since the run started
	// Return is ns since the run started: the final answer, or for an
	// Unknown write when the client gave up (the checker then moves it to
	// the end of the history).
	Return int64
	// Result is the final answer; empty when Unknown.
	Result string
	// Unknown is set for a write that got no definite answer: it may or
	// may not have taken effect.
	Unknown  bool
	Attempts int
	Node     int // node that gave the final answer (-1 if none)
}

// EventName returns the event the operation acts on, "default" for none.
func (o *Op) EventName() string {
	if o.Event == "" {
		return DefaultEvent
	}
	return o.Event
}

// Multi reports whether the request names several seats (its failures then
// name seats).
func (o *Op) Multi() bool { return len(o.Seats) > 1 }

// Group returns the group of the operation's seats (seat 0 aside), -1 for
// an operation without seats.
func (o *Op) Group() int {
	for _, s := range o.Seats {
		if s > 0 {
			return (s - 1) / GroupSize
		}
	}
	return -1
}

// SeatText returns the seats as the request line writes them.
func (o *Op) SeatText() string {
	if len(o.Seats) == 1 {
		return strconv.Itoa(o.Seats[0])
	}
	if o.Range {
		return fmt.Sprintf("%d-%d", o.Seats[0], o.Seats[len(o.Seats)-1])
	}
	parts := make([]string, len(o.Seats))
	for i, s := range o.Seats {
		parts[i] = strconv.Itoa(s)
	}
	return strings.Join(parts, ",")
}

// Line returns the request line of the operation.
func (o *Op) Line() string {
	var b strings.Builder
	b.WriteString(o.Kind.String())
	switch o.Kind {
	case OpEventCreate:
		fmt.Fprintf(&b, " %s %d", o.Event, o.Count)
	case OpEventDelete:
		b.WriteString(" " + o.Event)
	default:
		b.WriteString(" " + o.SeatText())
		if o.Holder != "" {
			b.WriteString(" " + o.Holder)
		}
		if o.TTL > 0 {
			fmt.Fprintf(&b, " ttl=%d", o.TTL)
		}
		if o.Event != "" {
			b.WriteString(" event=" + o.Event)
		}
	}
	if o.ID != "" {
		b.WriteString(" id=" + o.ID)
	}
	return b.String()
}

// heldExpiry returns the expiry a HOLD's answer "HELD <ms>" names.
func heldExpiry(result string) (int64, bool) {
	rest, ok := strings.CutPrefix(result, "HELD ")
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseInt(rest, 10, 64)
	return ms, err == nil
}

// Mix is an operation mix.
type Mix uint8

// The operation mixes.
const (
	// MixPart3 uses every request of part 3: three events (one of them
	// deleted and created again now and then), multi-seat RESERVE, CANCEL
	// and HOLD within a group, short holds that are confirmed, released,
	// renewed or left to expire, and part-1 requests among them.
	MixPart3 Mix = iota
	// MixPart1 is part 1's mix: RESERVE, CANCEL and STATUS of one seat of
	// the default event.
	MixPart1
)

// String names the mix.
func (m Mix) String() string {
	if m == MixPart1 {
		return "part1"
	}
	return "part3"
}

// Events the part-3 mix creates at the start. The last one is deleted and
// created again during the run.
var workloadEvents = []string{"ev1", "ev2"}

// churnEvent is the event that is deleted and created again.
const churnEvent = "ev2"

// WorkloadConfig shapes the traffic.
type WorkloadConfig struct {
	Clients int
	Mix     Mix
	// Groups is how many seat groups (of GroupSize seats, per event) are
	// in play at once; WindowOps how many operations are made before the
	// window moves on to fresh groups (this keeps each partition's history
	// short for the checker).
	Groups    int
	WindowOps int
	// EventSeats is the seat count of the events the part-3 mix creates.
	EventSeats int
	// Churn is how long the churn event lives between its deletion and
	// re-creation (and stays deleted for a quarter of that); 0 = never
	// deleted.
	Churn time.Duration
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

// events returns the events the clients use ("" = the default event
// without event=).
func (w *Workload) events() []string {
	if w.cfg.Mix == MixPart1 {
		return []string{""}
	}
	return append([]string{""}, workloadEvents...)
}

// Setup creates the workload's events (with ids, recorded in the history).
// It must succeed before Start.
func (w *Workload) Setup() error {
	if w.cfg.Mix == MixPart1 {
		return nil
	}
	sess := w.newSession(w.cfg.Clients)
	defer sess.closeAll()
	for i, name := range workloadEvents {
		op := &Op{Client: w.cfg.Clients, Kind: OpEventCreate, Event: name, Count: w.cfg.EventSeats,
			ID: fmt.Sprintf("w%d-setup-%d", w.seed, i), Node: -1}
		sess.do(op)
		w.record(op)
		if op.Unknown || op.Result != "SUCCESS" {
			res := op.Result
			if op.Unknown {
				res = "no answer"
			}
			return fmt.Errorf("create event %s: %q answered %s", name, op.Line(), res)
		}
	}
	return nil
}

// Start launches the clients.
func (w *Workload) Start() {
	for i := 0; i < w.cfg.Clients; i++ {
		w.wg.Add(1)
		go w.client(i)
	}
	if w.cfg.Mix == MixPart3 && w.cfg.Churn > 0 {
		w.wg.Add(1)
		go w.churn()
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

// Completed counts operations with a definite answer that returned between
// from and until (since the run's start).
func (w *Workload) Completed(from, until time.Duration) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, o := range w.ops {
		if !o.Unknown && o.Result != "" && o.Return >= int64(from) && o.Return <= int64(until) {
			n++
		}
	}
	return n
}

func (w *Workload) now() int64 { return int64(time.Since(w.start)) }

func (w *Workload) record(op *Op) {
	if op.Result == "" && !op.Unknown {
		return // a read that never got an answer tells nothing
	}
	w.mu.Lock()
	w.ops = append(w.ops, op)
	w.mu.Unlock()
}

// window returns the first group in play for the k-th operation.
func (w *Workload) window(k int64) int {
	return int(k/int64(w.cfg.WindowOps)) * w.cfg.Groups
}

func (w *Workload) newSession(id int) *session {
	return &session{w: w, id: id, node: id % w.cluster.N, conns: make(map[int]*lineConn)}
}

// pause waits d, or returns false when the workload stops.
func (w *Workload) pause(d time.Duration) bool {
	select {
	case <-w.stop:
		return false
	case <-time.After(d):
		return true
	}
}

// clientState is what one client remembers of its own acknowledged writes.
type clientState struct {
	rng   *rand.Rand
	id    int
	seq   int
	mine  []*Op // acknowledged bookings (named holders are unique per client op)
	holds []followUp
}

// followUp is what a client will do with one of its acknowledged holds,
// and from when on: holds are confirmed, released or renewed after a while
// (sometimes after they ran out), or left to expire.
type followUp struct {
	hold *Op
	kind OpKind // OpReserve confirms, OpCancel releases, OpHold renews
	due  int64  // ns since the run's start
}

func (cs *clientState) holder() string { return fmt.Sprintf("c%d-%d", cs.id, cs.seq) }

func (w *Workload) client(id int) {
	defer w.wg.Done()
	cs := &clientState{rng: rand.New(rand.NewSource(w.seed*1000 + int64(id))), id: id}
	sess := w.newSession(id)
	defer sess.closeAll()
	for ; ; cs.seq++ {
		if !w.pause(w.cfg.Interval) {
			return
		}
		k := w.opsStarted.Add(1)
		op := &Op{Client: id, Node: -1}
		if w.cfg.Mix == MixPart1 {
			w.part1Op(cs, op, w.window(k))
		} else {
			w.part3Op(cs, op, w.window(k))
		}
		if op.Kind.IsWrite() {
			op.ID = fmt.Sprintf("w%d-%d-%d", w.seed, id, cs.seq)
		}
		sess.do(op)
		w.remember(cs, op)
		w.record(op)
	}
}

// remember keeps the client's acknowledged bookings and holds.
func (w *Workload) remember(cs *clientState, op *Op) {
	if op.Unknown {
		return
	}
	switch {
	case op.Kind == OpReserve && op.Result == "SUCCESS":
		cs.mine = append(cs.mine, op)
		if len(cs.mine) > 64 {
			cs.mine = cs.mine[len(cs.mine)-64:]
		}
	case op.Kind == OpHold && strings.HasPrefix(op.Result, "HELD "):
		f := followUp{hold: op, due: op.Return + cs.rng.Int63n(int64(1500*time.Millisecond))}
		switch r := cs.rng.Intn(100); {
		case r < 40:
			f.kind = OpReserve
		case r < 65:
			f.kind = OpCancel
		case r < 75:
			f.kind = OpHold
		default:
			return // left to expire
		}
		cs.holds = append(cs.holds, f)
		if len(cs.holds) > 16 {
			cs.holds = cs.holds[len(cs.holds)-16:]
		}
	}
}

// inWindow reports whether op's seats are among the groups in play.
func (w *Workload) inWindow(op *Op, base int) bool {
	g := op.Group()
	return g >= base && g < base+w.cfg.Groups
}

// part1Op draws one operation of part 1's mix.
func (w *Workload) part1Op(cs *clientState, op *Op, base int) {
	rng := cs.rng
	lo, n := base*GroupSize+1, w.cfg.Groups*GroupSize
	r := rng.Intn(100)
	switch {
	case r < 40:
		op.Kind = OpReserve
		op.Seats = []int{lo + rng.Intn(n)}
		if rng.Intn(10) > 0 {
			op.Holder = cs.holder()
		}
	case r < 60:
		op.Kind = OpCancel
		// Cancel one of our bookings still in the window, or try a random
		// seat (mostly answered NOT_BOOKED / NOT_HOLDER).
		var candidates []*Op
		for _, m := range cs.mine {
			if w.inWindow(m, base) && m.Holder != "" {
				candidates = append(candidates, m)
			}
		}
		if len(candidates) > 0 && rng.Intn(4) > 0 {
			m := candidates[rng.Intn(len(candidates))]
			op.Seats, op.Holder = m.Seats, m.Holder
		} else {
			op.Seats = []int{lo + rng.Intn(n)}
			if rng.Intn(3) > 0 {
				op.Holder = cs.holder()
			}
		}
	default:
		op.Kind = OpStatus
		op.Seats = []int{lo + rng.Intn(n)}
	}
}

// part3Op draws one operation of the part-3 mix.
func (w *Workload) part3Op(cs *clientState, op *Op, base int) {
	rng := cs.rng
	// Follow up on one of our holds that is due: confirm, release or
	// renew it.
	now := w.now()
	for i, f := range cs.holds {
		if f.due > now {
			continue
		}
		cs.holds = append(cs.holds[:i], cs.holds[i+1:]...)
		if !w.inWindow(f.hold, base) {
			break
		}
		h := f.hold
		op.Kind, op.Event, op.Seats, op.Range, op.Holder = f.kind, h.Event, h.Seats, h.Range, h.Holder
		if op.Kind == OpHold {
			op.TTL = w.ttl(rng)
		}
		return
	}
	// Cancel one of our bookings, or a part of it, often enough that the
	// seats do not all stay booked.
	if i := w.pickBooking(rng, cs.mine, base, 30); i >= 0 {
		m := cs.mine[i]
		cs.mine = append(cs.mine[:i], cs.mine[i+1:]...)
		op.Kind = OpCancel
		op.Event, op.Seats, op.Range, op.Holder = m.Event, m.Seats, m.Range, m.Holder
		if m.Multi() && rng.Intn(4) == 0 {
			op.Seats, op.Range = []int{m.Seats[rng.Intn(len(m.Seats))]}, false
		}
		return
	}
	events := w.events()
	op.Event = events[rng.Intn(len(events))]
	if op.Event == "" && rng.Intn(10) == 0 {
		op.Event = DefaultEvent // the same event, named
	}
	g := base + rng.Intn(w.cfg.Groups)
	switch r := rng.Intn(100); {
	case r < 35:
		op.Kind = OpStatus
		op.Seats = []int{g*GroupSize + 1 + rng.Intn(GroupSize)}
	case r < 57:
		op.Kind = OpReserve
		w.pickSeats(rng, op, g)
		if rng.Intn(10) > 0 {
			op.Holder = cs.holder()
		}
	case r < 82:
		op.Kind = OpHold
		w.pickSeats(rng, op, g)
		op.Holder = cs.holder()
		op.TTL = w.ttl(rng)
	default:
		// Mostly answered NOT_BOOKED or NOT_HOLDER; an anonymous one may
		// cancel anybody's anonymous booking.
		op.Kind = OpCancel
		w.pickSeats(rng, op, g)
		if rng.Intn(3) > 0 {
			op.Holder = cs.holder()
		}
	}
}

// pickBooking returns, with probability percent/100, the index of a random
// one of ops whose seats are in the window; -1 otherwise.
func (w *Workload) pickBooking(rng *rand.Rand, ops []*Op, base, percent int) int {
	var live []int
	for i, o := range ops {
		if w.inWindow(o, base) {
			live = append(live, i)
		}
	}
	if len(live) == 0 || rng.Intn(100) >= percent {
		return -1
	}
	return live[rng.Intn(len(live))]
}

// ttl draws a hold's time to live: short, so that holds expire during the
// run.
func (w *Workload) ttl(rng *rand.Rand) int { return 1 + rng.Intn(3) }

// pickSeats draws the seats of a write within group g: one seat, a range, a
// list of adjacent seats, or any subset, sometimes led by the invalid seat 0
// (which no event has: FAILED_INVALID_SEAT 0 comes first).
func (w *Workload) pickSeats(rng *rand.Rand, op *Op, g int) {
	first := g*GroupSize + 1
	switch r := rng.Intn(100); {
	case r < 50:
		op.Seats = []int{first + rng.Intn(GroupSize)}
	case r < 80:
		n := 2 + rng.Intn(GroupSize-1)
		lo := first + rng.Intn(GroupSize-n+1)
		for s := lo; s < lo+n; s++ {
			op.Seats = append(op.Seats, s)
		}
		op.Range = rng.Intn(2) == 0
	default:
		for len(op.Seats) < 2 {
			op.Seats = op.Seats[:0]
			for s := first; s < first+GroupSize; s++ {
				if rng.Intn(2) == 0 {
					op.Seats = append(op.Seats, s)
				}
			}
		}
	}
	if op.Multi() && rng.Intn(25) == 0 {
		op.Seats, op.Range = append([]int{0}, op.Seats...), false
	}
}

// churn deletes the churn event and creates it again, over and over.
func (w *Workload) churn() {
	defer w.wg.Done()
	sess := w.newSession(w.cfg.Clients)
	defer sess.closeAll()
	for i := 0; ; i++ {
		if !w.pause(w.cfg.Churn) {
			return
		}
		del := &Op{Client: w.cfg.Clients, Kind: OpEventDelete, Event: churnEvent, ID: fmt.Sprintf("w%d-del-%d", w.seed, i), Node: -1}
		sess.do(del)
		w.record(del)
		// Created again even when the workload stops meanwhile, so that
		// the run ends with every event.
		w.pause(w.cfg.Churn / 4)
		cre := &Op{Client: w.cfg.Clients, Kind: OpEventCreate, Event: churnEvent, Count: w.cfg.EventSeats,
			ID: fmt.Sprintf("w%d-cre-%d", w.seed, i), Node: -1}
		sess.do(cre)
		w.record(cre)
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
	op.Return = s.w.now()
	if op.Kind.IsWrite() {
		op.Unknown = true
	}
}

func (s *session) attempt(node int, line string) (string, error) {
	c := s.conns[node]
	if c == nil {
		conn, err := net.DialTimeout("tcp", s.w.cluster.ClientAddr(node), s.w.cfg.AttemptTimeout)
		if err != nil {
			return "", fmt.Errorf("dial %s: %w", s.w.cluster.ID(node), err)
		}
		c = &lineConn{c: conn, r: bufio.NewReader(conn)}
		s.conns[node] = c
	}
	c.c.SetDeadline(time.Now().Add(s.w.cfg.AttemptTimeout))
	if _, err := c.c.Write([]byte(line + "\n")); err != nil {
		c.c.Close()
		delete(s.conns, node)
		return "", fmt.Errorf("send to %s: %w", s.w.cluster.ID(node), err)
	}
	resp, err := c.r.ReadString('\n')
	if err != nil {
		c.c.Close()
		delete(s.conns, node)
		return "", fmt.Errorf("read from %s: %w", s.w.cluster.ID(node), err)
	}
	return strings.TrimSuffix(resp, "\n"), nil
}
