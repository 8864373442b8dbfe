package node

import (
	"sync"
	"time"

	"github.com/seatd/seatd/protocol"
)

// call is one request in flight through the node, from the connection that
// read it to the writer that answers it. Calls are pooled: the hot path
// allocates none per request.
type call struct {
	n         *Node
	req       protocol.Request
	resp      string
	start     time.Time // when submit took it (zero for a line answered before)
	deadline  time.Time // answer ERROR TIMEOUT/NO_LEADER after this
	forwarded bool      // came from another node: never forwarded again
	connKey   uint64    // the client connection: its forwarded requests share one link
	attempted bool      // a write that reached Raft or the leader: outcome may be unknown
	closeConn bool      // the connection closes after this answer
	retries   int       // times the call was routed again after a failed attempt
	waitUntil time.Time // end of this call's leader wait, once it started waiting
	// formatProbed is set once the call waited for this node to ask the
	// leader which formats it applies (a part-3 request on a node whose
	// state machine still runs format 1).
	formatProbed bool
	done         chan struct{}
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func (n *Node) newCall() *call {
	c := callPool.Get().(*call)
	c.n = n
	return c
}

func releaseCall(c *call) {
	*c = call{done: c.done}
	callPool.Put(c)
}

// finish answers the call. It must be called exactly once per call.
func (c *call) finish(resp string) {
	c.resp = resp
	if o := c.n.observer; o != nil {
		var took time.Duration
		if !c.start.IsZero() {
			took = time.Since(c.start)
		}
		verb := ""
		if c.req.Verb != 0 {
			verb = c.req.Verb.String()
		}
		o.ObserveRequest(verb, resp, took, c.forwarded)
	}
	c.n.inflight.Add(-1)
	c.done <- struct{}{}
}

// AppendLine implements cluster.Request: the canonical request line.
func (c *call) AppendLine(dst []byte) []byte { return protocol.AppendLine(dst, c.req) }

// Forwarded implements cluster.Request: the leader's answer, or why none came.
func (c *call) Forwarded(resp string, err error) {
	c.n.forwardedAnswer(c, resp, err)
}

// Request implements replica.Call.
func (c *call) Request() *protocol.Request { return &c.req }

// Finish implements replica.Call.
func (c *call) Finish(resp string) { c.finish(resp) }

// Attempted implements replica.Call.
func (c *call) Attempted() bool { return c.attempted }

// SetAttempted implements replica.Call.
func (c *call) SetAttempted(attempted bool) { c.attempted = attempted }

// Reroute implements replica.Call: the call is routed again on its own
// goroutine (route may queue to the batcher that handed it back).
func (c *call) Reroute() { go c.n.route(c) }

// Retry implements replica.Call: the call is routed again after a backoff.
func (c *call) Retry() { c.n.retry(c) }
