package node

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
func (n *Node) serveInspect(ln net.Listener) {
	defer n.bg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "INSPECT %s %s %d %s\n", n.cfg.ID, n.raft.State(), n.raft.AppliedIndex(), n.fsm.Digest())
		conn.Close()
	}
}
