//go:build seatd_mut_followerread

package node

import "github.com/seatd/seatd/protocol"

// mutantLocalRead: BROKEN ON PURPOSE (robustness suite only). Every node
// answers STATUS from its own, possibly stale, state machine.
func (n *Node) mutantLocalRead(c *call) bool {
	if c.req.Verb != protocol.VerbStatus || n.fsm.Seats() == 0 {
		return false
	}
	c.finish(n.readLocal(c.req))
	return true
}

func (n *Node) mutantEarlyAck(batch []*call, entry []byte) bool { return false }
