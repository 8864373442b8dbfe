package node

import (
	"errors"
	"sync"
	"time"

	"github.com/seatd/seatd/cluster"
	"github.com/seatd/seatd/fsm"
	"github.com/seatd/seatd/protocol"
	"github.com/seatd/seatd/replica"
	"github.com/seatd/seatd/transport"
)

// submit starts a parsed request on its way. The call is answered through
// finish, possibly before submit returns.
func (n *Node) submit(c *call) {
	n.inflight.Add(1)
	c.start = time.Now()
	c.deadline = c.start.Add(n.cfg.RequestTimeout)
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
	total := n.replica.DefaultSeats()
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
	if n.replica.IsLeader() {
		if n.replica.LeaderReady() {
			if !c.req.IsPart1() && n.replica.Format() < fsm.FormatV2 {
				// Part 3 needs log format 2, and a ready leader's
				// state machine knows the cluster's format.
				c.finish(replica.FormatBusy)
				return
			}
			if c.req.Verb.IsWrite() {
				n.replica.Write(c)
			} else {
				n.replica.Read(c)
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
	addr, _ := n.replica.Leader()
	if addr == "" {
		go n.waitAndRoute(c)
		return
	}
	if !c.req.IsPart1() && n.replica.Format() < fsm.FormatV2 && !n.leaderServesPart3(c, addr) {
		return
	}
	if c.req.Verb.IsWrite() {
		c.attempted = true
	}
	n.forwarder.Send(addr, c.connKey, c)
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
		c.finish(replica.FormatBusy)
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
	newest, err := cluster.ProbeFormats(d, addr, replica.FormatProbeTimeout)
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
		changed := n.replica.Changed()
		if !time.Now().Before(waitUntil) {
			n.expire(c)
			return
		}
		if n.replica.IsLeader() {
			if n.replica.LeaderReady() {
				break
			}
		} else if addr, _ := n.replica.Leader(); addr != "" {
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
		case <-n.replica.Changed():
		case <-n.stop:
		}
		n.waitAndRoute(c)
	}()
}

// forwardedAnswer handles the leader's answer to a forwarded call.
func (n *Node) forwardedAnswer(c *call, resp string, err error) {
	switch {
	case err == nil && c.req.ID != "" && protocol.ErrorCodeOf(resp) == protocol.Timeout && time.Until(c.deadline) > minRetryLeft:
		// The leader could not learn the outcome (it lost leadership or
		// shut down with the write in its log). The id makes asking again
		// safe: the next leader answers from its id table, or applies the
		// write once. The call's own deadline still bounds the retries.
		n.retry(c)
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

// minRetryLeft is the least time a call must have left before its deadline
// for a write whose leader answered TIMEOUT to be sent again: a re-send may
// take up to the forwarding timeout, and a call must not be answered long
// after its own deadline.
const minRetryLeft = time.Second

// leaderAppliedNothing reports whether the leader's answer says it applied
// nothing and another node may serve the request: it was not the leader
// any more, or it is shutting down.
func leaderAppliedNothing(resp string) bool {
	code := protocol.ErrorCodeOf(resp)
	return code == protocol.NotLeader || code == protocol.ShuttingDown
}
