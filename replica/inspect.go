package replica

import (
	"fmt"
	"net"
	"time"
)

// serveInspect answers each connection on the inspect service with one line,
//
//	INSPECT <id> <state> <applied-index> <fsm-digest>
//
// describing this node's own applied state (not the leader's), then closes
// it. The robustness suite uses it to check that every replica ends with
// the same state.
func (r *Replica) serveInspect(ln net.Listener) {
	defer r.bg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "INSPECT %s %s %d %s\n", r.cfg.ID, r.raft.State(), r.raft.AppliedIndex(), r.fsm.Digest())
		conn.Close()
	}
}
