package node

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/transport"
)

// Internal tuning of the leader's batching. Batches form on completion: a
// new log entry is started as soon as fewer than maxOutstandingApplies are
// being committed, carrying every write that queued meanwhile.
//
// One entry in flight is group commit at its simplest: while an entry
// commits, every write that arrives waits for the next one. Flushes, not
// CPU, bound a loaded cluster (all nodes share one disk on the benchmark
// machine), and every further entry in flight costs a flush on every node.
// docs/benchmarks.md: against 2 in flight, 1 gave 14% more writes/s at 64
// and 256 clients with boltdb and 5-7% more with wal; 8 was worse than 2.
const (
	maxBatchWrites        = 1024
	maxOutstandingApplies = 1
	maxReadBatch          = 4096
)

// submit starts a parsed request on its way. The call is answered through
// finish, possibly before submit returns.
func (n *Node) submit(c *call) {
	n.inflight.Add(1)
	c.deadline = time.Now().Add(n.cfg.RequestTimeout)
	if c.req.IsPart1() && c.req.HasSeat && c.req.ID == "" && !n.seatMayExist(c.req.Seat) {
		// The default event's seat count never changes once the cluster
		// exists (it cannot be deleted), so an out-of-range seat needs no
		// round trip. A write with an id still goes to the log: the id may
		// already carry a recorded answer.
		c.finish(protocol.FailedInvalidSeat)
		return
	}
	n.route(c)
}

func (n *Node) seatMayExist(seat uint32) bool {
	if seat == 0 {
		return false
	}
	total := n.fsm.DefaultSeats()
	return total == 0 || seat <= total
}

// route sends the call to where it can be answered: the local batchers when
// this node is a ready leader, the leader through the forwarder otherwise,
// or a short wait when there is no leader yet.
func (n *Node) route(c *call) {
	if n.closing.Load() && !c.attempted {
		c.finish(protocol.ErrorLine(protocol.ShuttingDown, ""))
		return
	}
	if time.Now().After(c.deadline) {
		n.expire(c)
		return
	}
	if hookAnswerLocally(n, c) {
		return
	}
	if n.raft.State() == raft.Leader {
		if n.leaderReady() {
			if !c.req.IsPart1() && n.fsm.Format() < fsm.FormatV2 {
				// Part 3 needs log format 2, and a ready leader's
				// state machine knows the cluster's format.
				c.finish(formatBusy)
				return
			}
			if c.req.Verb.IsWrite() {
				n.writes <- c
			} else {
				n.reads <- c
			}
			return
		}
		go n.waitAndRoute(c) // leadership just began: wait for the barrier
		return
	}
	if c.forwarded {
		// At most one hop: tell the sending follower, which knows how to
		// find the real leader.
		if c.attempted && c.req.Verb.IsWrite() && c.req.ID == "" {
			c.finish(protocol.ErrorLine(protocol.Timeout, "leadership lost before the write was committed"))
			return
		}
		c.finish(protocol.ErrorLine(protocol.NotLeader, ""))
		return
	}
	addr, _ := n.raft.LeaderWithID()
	if addr == "" {
		go n.waitAndRoute(c)
		return
	}
	if !c.req.IsPart1() && n.fsm.Format() < fsm.FormatV2 && !n.leaderServesPart3(c, string(addr)) {
		return
	}
	if c.req.Verb.IsWrite() {
		c.attempted = true
	}
	n.forwarder.Send(string(addr), c.connKey, c)
}

// leaderServesPart3 decides, for a part-3 request on a follower whose state
// machine still runs format 1 (it may only lag behind the raise: after a
// restart a follower can be far behind), whether to forward it. A leader of
// a build before format 2 would answer it by the older grammar (RESERVE 3,4
// as an invalid seat, recorded under its id for good), so the follower asks
// the leader's formats service first (cached): a leader of this build
// decides itself, by the cluster's format; an older one means ERROR BUSY.
// It returns false when it answered the call or will route it again.
func (n *Node) leaderServesPart3(c *call, addr string) bool {
	newest, known := n.leaderFormats.get(addr)
	switch {
	case known && newest >= fsm.FormatV2:
		return true
	case known || c.formatProbed:
		c.finish(formatBusy)
		return false
	}
	c.formatProbed = true
	go func() {
		n.leaderFormats.probe(n.dialer, addr)
		n.route(c)
	}()
	return false
}

// formatCache remembers which log formats the nodes at some addresses apply
// (what their formats service said), for a while.
type formatCache struct {
	mu      sync.Mutex
	entries map[string]formatEntry
}

type formatEntry struct {
	newest int
	at     time.Time
}

// formatCacheFor is how long an answer of the formats service is trusted:
// a node at an address may be upgraded (or rolled back) meanwhile.
const formatCacheFor = 10 * time.Second

func (fc *formatCache) get(addr string) (int, bool) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	e, ok := fc.entries[addr]
	if !ok || time.Since(e.at) > formatCacheFor {
		return 0, false
	}
	return e.newest, true
}

// probe asks the node at addr and remembers its answer; a node that did not
// answer is not remembered.
func (fc *formatCache) probe(d *transport.Dialer, addr string) {
	newest, err := cluster.ProbeFormats(d, addr, formatProbeTimeout)
	if err != nil {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.entries == nil {
		fc.entries = make(map[string]formatEntry)
	}
	fc.entries[addr] = formatEntry{newest: newest, at: time.Now()}
}

// expire answers a call whose deadline passed: a write that may have been
// applied gets TIMEOUT (outcome unknown), anything else NO_LEADER.
func (n *Node) expire(c *call) {
	if c.attempted {
		c.finish(protocol.ErrorLine(protocol.Timeout, "no result in time; retry with the same id to learn the outcome"))
		return
	}
	c.finish(protocol.ErrorLine(protocol.NoLeader, ""))
}

// waitAndRoute waits until a leader is known (or this node is a ready
// leader), at most LeaderWait, then routes the call again. Only elections
// take this path, so a goroutine per waiting call is acceptable.
func (n *Node) waitAndRoute(c *call) {
	if c.waitUntil.IsZero() {
		// The leader wait is counted once per request, not per retry.
		c.waitUntil = time.Now().Add(n.cfg.LeaderWait)
		if c.deadline.Before(c.waitUntil) {
			c.waitUntil = c.deadline
		}
	}
	waitUntil := c.waitUntil
	timer := time.NewTimer(time.Until(waitUntil))
	defer timer.Stop()
	for {
		changed := n.changes.wait()
		if !time.Now().Before(waitUntil) {
			n.expire(c)
			return
		}
		if n.raft.State() == raft.Leader {
			if n.leaderReady() {
				break
			}
		} else if addr, _ := n.raft.LeaderWithID(); addr != "" {
			break
		}
		select {
		case <-changed:
		case <-timer.C:
		case <-n.stop:
			if c.attempted {
				c.finish(protocol.ErrorLine(protocol.Timeout, "the node shut down before the answer; outcome unknown"))
			} else {
				c.finish(protocol.ErrorLine(protocol.ShuttingDown, ""))
			}
			return
		}
	}
	n.route(c)
}

// retry routes a call again after a short backoff that grows with each
// retry, so that a follower whose idea of the leader is stale does not
// hammer the old leader while the election runs.
func (n *Node) retry(c *call) {
	c.retries++
	delay := min(time.Duration(1<<min(c.retries, 8))*time.Millisecond, 100*time.Millisecond)
	go func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-n.changes.wait():
		case <-n.stop:
		}
		n.waitAndRoute(c)
	}()
}

// forwardedAnswer handles the leader's answer to a forwarded call.
func (n *Node) forwardedAnswer(c *call, resp string, err error) {
	switch {
	case err == nil && !leaderAppliedNothing(resp):
		c.finish(resp)
	case err == nil || errors.Is(err, cluster.ErrNotSent):
		// The leader applied nothing: find the new leader and try again.
		n.retry(c)
	case !c.req.Verb.IsWrite() || c.req.ID != "":
		// Reads, and writes with an id, are safe to send again: the id
		// makes a repeated write answer its first result.
		n.retry(c)
	case errors.Is(err, cluster.ErrClosed):
		c.finish(protocol.ErrorLine(protocol.ShuttingDown, ""))
	default:
		c.finish(protocol.ErrorLine(protocol.Timeout, "lost the connection to the leader; outcome unknown"))
	}
}

// leaderAppliedNothing reports whether the leader's answer says it applied
// nothing and another node may serve the request: it was not the leader
// any more, or it is shutting down.
func leaderAppliedNothing(resp string) bool {
	code := protocol.ErrorCodeOf(resp)
	return code == protocol.NotLeader || code == protocol.ShuttingDown
}

// pendingApply is one log entry being committed and the calls it carries.
type pendingApply struct {
	future raft.ApplyFuture
	calls  []*call
}

// runWriteBatcher turns queued writes into log entries on the leader. It
// owns the applies it starts; a companion goroutine waits for them in order.
func (n *Node) runWriteBatcher() {
	defer n.bg.Done()
	slots := make(chan struct{}, maxOutstandingApplies)
	applies := make(chan pendingApply, maxOutstandingApplies)
	completerDone := make(chan struct{})
	go func() {
		defer close(completerDone)
		for p := range applies {
			n.completeApply(p)
			<-slots
		}
	}()
	defer func() {
		close(applies)
		<-completerDone
	}()

	for {
		select {
		case slots <- struct{}{}:
		case <-n.stop:
			return
		}
		var first *call
		select {
		case first = <-n.writes:
		case <-n.tick:
			// A hold has fallen due. A write waiting takes precedence:
			// its entry carries the time forward as well as a tick
			// would. Otherwise a tick entry frees the hold on every node.
			select {
			case first = <-n.writes:
			default:
			}
			if first == nil {
				if n.fsm.Format() >= fsm.FormatV2 && n.fsm.Halted() == nil {
					applies <- pendingApply{future: n.raft.Apply(fsm.AppendTick(nil, time.Now().UnixMilli()), n.cfg.RequestTimeout)}
				} else {
					<-slots
				}
				continue
			}
		case <-n.stop:
			return
		}
		batch := make([]*call, 1, 16)
		batch[0] = first
	drain:
		for len(batch) < maxBatchWrites {
			select {
			case c := <-n.writes:
				batch = append(batch, c)
			default:
				break drain
			}
		}
		entry, batch := n.encodeBatch(batch)
		if len(batch) == 0 {
			<-slots
			continue
		}
		if hookAnswerBeforeCommit(n, batch, entry) {
			<-slots
			continue
		}
		applies <- pendingApply{future: n.raft.Apply(entry, n.cfg.RequestTimeout), calls: batch}
	}
}

// encodeBatch encodes the writes of batch into one log entry of the
// cluster's format and returns it with the calls it carries. A write that
// format cannot carry (a part-3 request before every voter can apply
// format 2) is answered ERROR BUSY, and one the state machine's decoder
// would refuse INVALID_COMMAND, at once: neither goes into the log.
func (n *Node) encodeBatch(batch []*call) ([]byte, []*call) {
	format := n.fsm.Format()
	kept := batch[:0]
	for _, c := range batch {
		w := requestWrite(&c.req)
		switch err := fsm.Check(format, &w); {
		case errors.Is(err, fsm.ErrNeedsFormat):
			c.finish(formatBusy)
		case err != nil:
			n.logger.Debug("write refused before the log", "request", c.req.Verb.String(), "error", err)
			c.finish(protocol.InvalidCommand)
		default:
			c.attempted = true
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return nil, nil
	}
	entry := fsm.AppendBatchHeader(make([]byte, 0, 32*len(kept)), format, time.Now().UnixMilli(), len(kept))
	for _, c := range kept {
		w := requestWrite(&c.req)
		entry = fsm.AppendWrite(entry, format, &w)
	}
	return entry, kept
}

// formatBusy answers a part-3 request while the cluster runs log format 1.
var formatBusy = protocol.ErrorLine(protocol.Busy, "the cluster still runs log format 1: events, seat lists, holds and history need every voter upgraded")

// requestWrite turns a parsed write request into the state machine's write.
func requestWrite(req *protocol.Request) fsm.Write {
	w := fsm.Write{Event: req.Event, Seat: req.Seat, Seats: req.Seats, Holder: req.Holder, ID: req.ID, Count: req.Count}
	switch req.Verb {
	case protocol.VerbReserve:
		w.Op = fsm.OpReserve
	case protocol.VerbCancel:
		w.Op = fsm.OpCancel
	case protocol.VerbHold:
		w.Op = fsm.OpHold
		w.TTL = req.TTL
		if w.TTL == 0 {
			w.TTL = protocol.DefaultTTL
		}
	case protocol.VerbEventCreate:
		w.Op = fsm.OpEventCreate
	case protocol.VerbEventDelete:
		w.Op = fsm.OpEventDelete
	}
	return w
}

// completeApply waits for one entry and answers its calls with the FSM's
// results for it.
func (n *Node) completeApply(p pendingApply) {
	err := p.future.Error()
	if len(p.calls) == 0 { // a tick
		if err != nil {
			n.logger.Debug("tick entry not applied", "error", err)
		}
		return
	}
	if err == nil {
		switch res := p.future.Response().(type) {
		case []fsm.Result:
			for i, c := range p.calls {
				c.finish(resultLine(res[i]))
			}
			return
		case error:
			n.logger.Error("log entry rejected by the state machine", "error", res)
			err = res
		default:
			err = errors.New("unexpected state machine response")
		}
	}
	notApplied := errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout)
	for _, c := range p.calls {
		switch {
		case errors.Is(err, raft.ErrRaftShutdown):
			// Raft reports shutdown even for entries it committed: the
			// outcome is unknown.
			c.finish(protocol.ErrorLine(protocol.Timeout, "the node shut down before the answer; outcome unknown"))
		case notApplied:
			c.attempted = false
			go n.route(c) // not inline: route may queue to the batcher that waits on us
		case c.req.ID != "" && (errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrAbortedByRestore)):
			// Safe to retry through the new leader: the id makes it
			// exactly-once.
			go n.route(c)
		default:
			c.finish(protocol.ErrorLine(protocol.Timeout, "leadership lost before the write was committed; outcome unknown"))
		}
	}
}

// runReadBatcher answers reads on the leader: each batch of reads waits for
// one leadership confirmation, then is answered from the local state, which
// then holds every write acknowledged before the reads arrived.
func (n *Node) runReadBatcher() {
	defer n.bg.Done()
	batch := make([]*call, 0, 64)
	for {
		batch = batch[:0]
		select {
		case c := <-n.reads:
			batch = append(batch, c)
		case <-n.stop:
			return
		}
	drain:
		for len(batch) < maxReadBatch {
			select {
			case c := <-n.reads:
				batch = append(batch, c)
			default:
				break drain
			}
		}
		if err := n.fsm.Halted(); err != nil {
			// Answering from a state machine that stopped applying the
			// log would be a stale read.
			for _, c := range batch {
				c.finish(protocol.ErrorLine(protocol.NoLeader, "this node cannot apply the log; upgrade it"))
			}
			continue
		}
		if !n.confirmLeadership() {
			for _, c := range batch {
				n.retry(c)
			}
			continue
		}
		for _, c := range batch {
			c.finish(n.readLocal(c.req))
		}
	}
}

// leaderReady reports whether this node leads and has applied everything
// committed before its current term began.
func (n *Node) leaderReady() bool {
	return n.raft.State() == raft.Leader && n.readyTerm.Load() == n.raft.CurrentTerm()
}

// confirmLeadership reports whether this node was, after the reads in hand
// arrived, the leader of a term whose start barrier it has applied.
func (n *Node) confirmLeadership() bool {
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() != term {
		return false
	}
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return false
	}
	return n.raft.CurrentTerm() == term
}

// relayObservations wakes waiting requests whenever Raft's leader or state
// changes.
func (n *Node) relayObservations(observations <-chan raft.Observation) {
	defer n.bg.Done()
	for {
		select {
		case <-observations:
			n.changes.broadcast()
		case <-n.stop:
			return
		}
	}
}

// watchLeadership follows Raft's leadership changes. On becoming leader it
// commits a barrier — so the FSM holds every entry committed in earlier
// terms — creates the seats if the cluster is new, and only then marks the
// term ready for reads and writes.
func (n *Node) watchLeadership(notify <-chan bool) {
	defer n.bg.Done()
	for {
		select {
		case isLeader := <-notify:
			n.readyTerm.Store(0)
			if isLeader {
				n.becomeReady()
			}
		case <-n.stop:
			return
		}
	}
}

func (n *Node) becomeReady() {
	term := n.raft.CurrentTerm()
	for attempt := 0; ; attempt++ {
		err := n.prepareTerm()
		if err == nil {
			break
		}
		if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
			n.logger.Info("leadership ended before the term was ready", "term", term, "error", err)
			return
		}
		n.logger.Warn("preparing leadership failed; retrying", "term", term, "error", err)
		select {
		case <-time.After(min(time.Duration(attempt+1)*50*time.Millisecond, time.Second)):
		case <-n.stop:
			return
		}
	}
	if n.raft.CurrentTerm() != term {
		return
	}
	n.readyTerm.Store(term)
	n.changes.broadcast()
	n.logger.Info("leader ready", "term", term)
}

// prepareTerm commits a barrier (so the FSM holds every entry committed in
// earlier terms) and, if the cluster is new, creates the default event and
// tries once to raise the cluster's log format.
func (n *Node) prepareTerm() error {
	if err := n.raft.Barrier(n.cfg.RequestTimeout).Error(); err != nil {
		return fmt.Errorf("barrier: %w", err)
	}
	if n.fsm.DefaultSeats() == 0 {
		entry := fsm.AppendInit(nil, time.Now().UnixMilli(), uint32(n.cfg.Seats))
		if err := n.raft.Apply(entry, n.cfg.RequestTimeout).Error(); err != nil {
			return fmt.Errorf("create the seats: %w", err)
		}
		n.logger.Info("cluster created", "seats", n.cfg.Seats)
		// One attempt before the new cluster serves, so that it takes
		// part-3 requests from the first one; runLeaderTimers retries.
		// (Only here: at every other election the attempt runs in the
		// background and never delays readiness.)
		n.raiseFormat(formatProbeTimeout)
	} else if int(n.fsm.DefaultSeats()) != n.cfg.Seats {
		n.logger.Warn("--seats differs from the default event's seat count, which is fixed at creation",
			"flag", n.cfg.Seats, "cluster", n.fsm.DefaultSeats())
	}
	return nil
}
